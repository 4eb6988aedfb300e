-- The status monitor (PostgreSQL). Keep in step with the other backend's 0006.
-- Status updates per application in a postbox, in the order they arrived (`seq`); the details
-- are sealed like message content.
CREATE TABLE application_states (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    handle         TEXT NOT NULL REFERENCES postboxes(handle) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    application_id TEXT NOT NULL,
    status         TEXT NOT NULL,
    sender         TEXT NOT NULL,
    service_name   TEXT NOT NULL,
    sealed         BYTEA NOT NULL,
    reference      TEXT,
    recorded_at    BIGINT NOT NULL
);
CREATE INDEX application_states_handle ON application_states (handle, application_id, seq);
