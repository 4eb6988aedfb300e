-- A client may retry the refresh token it still holds when the answer to its last rotation
-- was lost (a crash, a dropped connection), for a short while and only while the successor
-- was never used. Keep in step with ../postgres/0012_refresh_retry.sql.

-- the hash of the token the last rotation replaced, and when it did
ALTER TABLE grants ADD COLUMN previous_refresh_hash TEXT;
ALTER TABLE grants ADD COLUMN refresh_rotated_at BIGINT;
