-- Which SAML service providers took part in a session, under which transient name ID and
-- session index: single logout finds the session from an SP's LogoutRequest and tells the
-- others. Rows are taken (deleted) when the session's logout starts, and purged once past the
-- longest session. Keep in step with ../postgres/0014_saml_participations.sql.
CREATE TABLE saml_participations (
    entity_id     TEXT NOT NULL REFERENCES saml_service_providers(entity_id) ON DELETE CASCADE,
    name_id       TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    session_index TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (entity_id, name_id)
);
CREATE INDEX saml_participations_session ON saml_participations (session_id);
