-- What senders are told about their postbox messages (PostgreSQL). Keep in step with
-- ../sqlite/0009_postbox_events.sql.

-- Where a client wants to be told (RFC 8935 push of Security Event Tokens); NULL: polling only.
ALTER TABLE clients ADD COLUMN postbox_webhook TEXT;

-- The outbox: an event is written in the same transaction as what it reports (a message read,
-- deleted, its account deleted) and delivered at least once from here, with retries and
-- back-off; a node takes an event by moving its `next_attempt_at` ahead (a lease), so a node
-- that dies while delivering leaves it to the next attempt.
CREATE TABLE postbox_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    event           TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    -- given up after the last attempt
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX postbox_events_due ON postbox_events (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
