-- SAML service providers. What every relying party has lives in `clients` (a row no OpenID
-- Connect request can use: no redirect URIs, no grant types); this table holds what only a
-- SAML SP has: its metadata as registered and how its assertions are encrypted.
-- Keep in step with ../postgres/0013_saml.sql.
CREATE TABLE saml_service_providers (
    entity_id  TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL UNIQUE REFERENCES clients(id) ON DELETE CASCADE,
    metadata   TEXT NOT NULL,
    cipher     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
