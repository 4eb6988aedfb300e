-- konto's initial schema (PostgreSQL). Keep in step with ../sqlite/0001_initial.sql:
-- times are Unix seconds (BIGINT), lists and structured values are JSON text.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT UNIQUE,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    postbox_handle TEXT NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    last_login_at  BIGINT
);

CREATE TABLE attributes (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    source      TEXT NOT NULL,
    level       TEXT NOT NULL,
    verified_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE authenticators (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    external_id TEXT,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE UNIQUE INDEX authenticators_external ON authenticators (kind, external_id);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    auth_method               TEXT NOT NULL,
    secret_hash               TEXT,
    jwks                      TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    subject_type              TEXT NOT NULL,
    sector_identifier_uri     TEXT,
    first_party               BOOLEAN NOT NULL,
    require_pkce              BOOLEAN NOT NULL,
    min_level                 TEXT NOT NULL,
    acr_vocabulary            TEXT NOT NULL,
    allow_temporary_login     BOOLEAN NOT NULL,
    created_at                BIGINT NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE flows (
    id_hash      TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    request      TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX flows_expires ON flows (expires_at);

-- A grant is what a user granted a client in one login. It carries its authorization code (used
-- once, kept until the grant ends so a replay is recognised) and the hash of its current refresh
-- token with the rotation count: issuing, redeeming and rotating each touch one row.
CREATE TABLE grants (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id            TEXT REFERENCES users(id) ON DELETE CASCADE,
    temporary_identity TEXT,
    subject            TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    claims             TEXT,
    level              TEXT NOT NULL,
    amr                TEXT NOT NULL,
    auth_time          BIGINT NOT NULL,
    session_id         TEXT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    code_hash          TEXT NOT NULL UNIQUE,
    redirect_uri       TEXT NOT NULL,
    code_challenge     TEXT,
    nonce              TEXT,
    code_expires_at    BIGINT NOT NULL,
    code_used_at       BIGINT,
    refresh_hash       TEXT UNIQUE,
    refresh_generation BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_expires ON grants (expires_at);
CREATE INDEX grants_code_expires ON grants (code_expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    claims     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE signing_keys (
    kid               TEXT PRIMARY KEY,
    alg               TEXT NOT NULL,
    status            TEXT NOT NULL,
    private_encrypted BYTEA NOT NULL,
    public_jwk        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    retire_after      BIGINT
);

CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);

CREATE TABLE email_links (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    email      TEXT NOT NULL,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    payload    TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_links_expires ON email_links (expires_at);
