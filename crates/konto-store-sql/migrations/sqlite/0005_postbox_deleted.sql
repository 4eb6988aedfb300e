-- Messages the person deleted (SQLite). Keep in step with the other backend's 0005.
-- The row stays, without its content, so the sender can learn that it was deleted and a
-- retried send is still recognised; `sealed` is emptied when `deleted_at` is set.
ALTER TABLE postbox_messages ADD COLUMN deleted_at BIGINT;
