-- The organisation facts' epoch (PostgreSQL). Keep in step with ../sqlite/0003_org_epoch.sql.
--
-- One number that grows, in the same transaction, with every change to organisations, members,
-- rights and mandates: the triggers below bump it, so no write path can forget to. A node may
-- cache what it read of those tables and use it while the epoch it reads (in the same
-- statement as a refresh token's rotation, or on its own) is the one it cached under.
-- Transactional on purpose: a sequence would show the new number before the change commits.
CREATE TABLE org_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO org_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION org_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = org_epoch.n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER organisations_epoch AFTER INSERT OR UPDATE OR DELETE ON organisations
    FOR EACH STATEMENT EXECUTE FUNCTION org_epoch_bump();
CREATE TRIGGER org_members_epoch AFTER INSERT OR UPDATE OR DELETE ON org_members
    FOR EACH STATEMENT EXECUTE FUNCTION org_epoch_bump();
CREATE TRIGGER org_rights_epoch AFTER INSERT OR UPDATE OR DELETE ON org_rights
    FOR EACH STATEMENT EXECUTE FUNCTION org_epoch_bump();
CREATE TRIGGER mandates_epoch AFTER INSERT OR UPDATE OR DELETE ON mandates
    FOR EACH STATEMENT EXECUTE FUNCTION org_epoch_bump();
