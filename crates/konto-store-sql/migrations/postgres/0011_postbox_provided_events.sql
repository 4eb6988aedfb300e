-- Senders with a webhook are told that a message was provided (PostgreSQL). Keep in step with
-- ../sqlite/0011_postbox_provided_events.sql.

-- A trigger, so that the outbox row is written by the very statement that stores the message
-- (no further round trip on a send); a retried send stores nothing and fires nothing.
CREATE FUNCTION postbox_message_provided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO postbox_events
        (id, client_id, message_id, event, occurred_at, attempts, next_attempt_at)
    SELECT NEW.id || '.provided', NEW.client_id, NEW.id, 'provided', NEW.provided_at, 0,
           NEW.provided_at
    FROM clients c WHERE c.id = NEW.client_id AND c.postbox_webhook IS NOT NULL
    ON CONFLICT (id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER postbox_messages_provided AFTER INSERT ON postbox_messages
    FOR EACH ROW EXECUTE FUNCTION postbox_message_provided();
