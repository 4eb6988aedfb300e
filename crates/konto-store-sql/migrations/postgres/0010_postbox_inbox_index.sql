-- The inbox in pages (PostgreSQL). Keep in step with ../sqlite/0010_postbox_inbox_index.sql.

-- A postbox's messages in the inbox's order (unread first, then newest first), without the
-- deleted ones: a page is read off the index instead of sorting every message.
CREATE INDEX postbox_messages_inbox ON postbox_messages
    (handle, (CASE WHEN read_at IS NULL THEN 0 ELSE 1 END), provided_at DESC, id)
    WHERE deleted_at IS NULL;
