-- Attachments of postbox messages (PostgreSQL). Keep in step with ../sqlite/0008_postbox_attachments.sql.

-- Each attachment sealed under its postbox's data key (AES-256-GCM, bound to the message and
-- the position). Name, type, size and hash are part of the message's sealed content. Written
-- before the message itself: rows whose message never arrived are purged after an hour.
CREATE TABLE postbox_attachments (
    message_id  TEXT NOT NULL,
    position    INTEGER NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, position)
);
