-- Postboxes of deleted accounts (PostgreSQL). Keep in step with the other backend's 0007.
-- When an account is deleted its postbox is closed rather than removed: the data key and every
-- message's content are erased, the rows stay so that a sender still learns that its messages
-- were deleted with the account.
ALTER TABLE postboxes ADD COLUMN closed_at BIGINT;
