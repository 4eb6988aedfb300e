-- The postbox (PostgreSQL). Keep in step with ../sqlite/0004_postbox.sql.

-- A postbox per account (person or organisation), addressed by a handle distinct from every
-- subject identifier. `data_key`: the postbox's AES-256-GCM key sealed under the master key,
-- set with the first message.
CREATE TABLE postboxes (
    handle      TEXT PRIMARY KEY,
    owner_type  TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    data_key    BYTEA,
    created_at  BIGINT NOT NULL,
    UNIQUE (owner_type, owner_id)
);

-- Which clients were given a handle (with the user's consent): only they may deliver to it.
CREATE TABLE postbox_releases (
    handle      TEXT NOT NULL REFERENCES postboxes(handle) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    released_at BIGINT NOT NULL,
    PRIMARY KEY (handle, client_id)
);

-- Messages. Title and body are sealed under the postbox's data key; the sender's
-- Idempotency-Key makes a retried send the same message.
CREATE TABLE postbox_messages (
    id              TEXT PRIMARY KEY,
    handle          TEXT NOT NULL REFERENCES postboxes(handle) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind            TEXT NOT NULL,
    min_level       TEXT NOT NULL,
    sender          TEXT NOT NULL,
    service         TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    content_sha256  TEXT NOT NULL,
    reference       TEXT,
    application_id  TEXT,
    provided_at     BIGINT NOT NULL,
    delivered_at    BIGINT,
    read_at         BIGINT,
    UNIQUE (client_id, idempotency_key)
);
CREATE INDEX postbox_messages_handle ON postbox_messages (handle, provided_at);
