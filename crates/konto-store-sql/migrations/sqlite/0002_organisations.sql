-- Organisations, members, rights, mandates (SQLite). Keep in step with
-- ../postgres/0002_organisations.sql. Expand only: new tables and nullable or defaulted columns.

-- A grant made while acting for someone holds the representation (JSON); NULL: for oneself.
ALTER TABLE grants ADD COLUMN representation TEXT;

-- The groups of online services a client belongs to (JSON list, like `scopes`).
ALTER TABLE clients ADD COLUMN service_groups TEXT NOT NULL DEFAULT '[]';

-- An organisation account. Each identifier makes at most one organisation: the W-IdNr., the
-- register key (court, type, number; NULL when there is none), the EUID and the evidence key
-- (`elster:<holder id>` for an organisation ELSTER certificate).
CREATE TABLE organisations (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    legal_form      TEXT NOT NULL,
    wirtschafts_id  TEXT UNIQUE,
    register_court  TEXT,
    register_type   TEXT,
    register_number TEXT,
    euid            TEXT UNIQUE,
    address         TEXT NOT NULL,
    level           TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    evidence_key    TEXT UNIQUE,
    postbox_handle  TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    confirmed_at    BIGINT,
    -- a register key is whole or absent
    CHECK ((register_court IS NULL) = (register_type IS NULL)
       AND (register_type IS NULL) = (register_number IS NULL))
);
CREATE UNIQUE INDEX organisations_register
    ON organisations (register_court, register_type, register_number);

CREATE TABLE org_members (
    organisation         TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role                 TEXT NOT NULL,
    legal_representative BOOLEAN NOT NULL,
    joined_at            BIGINT NOT NULL,
    PRIMARY KEY (organisation, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- A mandate between two parties (a person: an account id; an organisation: its id). `parent`
-- has no foreign key: a mandate passed on from one that is gone must stop verifying, not
-- turn into a mandate of its own principal.
CREATE TABLE mandates (
    id              TEXT PRIMARY KEY,
    principal_type  TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    agent_type      TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    scope           TEXT NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_until     BIGINT,
    redelegation    BIGINT NOT NULL,
    parent          TEXT,
    offered_by      TEXT NOT NULL,
    evidence        TEXT,
    created_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    objection_until BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX mandates_principal ON mandates (principal_type, principal_id);
CREATE INDEX mandates_agent ON mandates (agent_type, agent_id);

-- A right goes with the membership it was given to, and with the mandate it acts under.
CREATE TABLE org_rights (
    id           TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    mandate      TEXT REFERENCES mandates(id) ON DELETE CASCADE,
    granted_at   BIGINT NOT NULL,
    FOREIGN KEY (organisation, user_id)
        REFERENCES org_members(organisation, user_id) ON DELETE CASCADE
);
CREATE INDEX org_rights_member ON org_rights (organisation, user_id);
CREATE INDEX org_rights_user ON org_rights (user_id);
CREATE INDEX org_rights_mandate ON org_rights (mandate);

-- The pending confirmation letter of an organisation's first administrator.
CREATE TABLE org_letters (
    organisation TEXT PRIMARY KEY REFERENCES organisations(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash    TEXT NOT NULL,
    reference    TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX org_letters_expires ON org_letters (expires_at);

-- `invited_by` has no foreign key: the invitation is the organisation's, not its sender's.
CREATE TABLE org_invitations (
    hash         TEXT PRIMARY KEY,
    organisation TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    invited_by   TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX org_invitations_expires ON org_invitations (expires_at);

-- The record of changes of an organisation, in the order they were written. `actor` has no
-- foreign key: the record outlives the account that acted.
CREATE TABLE org_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    actor        TEXT,
    actor_level  TEXT,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX org_events_organisation ON org_events (organisation, id);
