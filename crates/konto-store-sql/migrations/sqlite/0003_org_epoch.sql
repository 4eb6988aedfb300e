-- The organisation facts' epoch (SQLite). Keep in step with ../postgres/0003_org_epoch.sql.
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
CREATE TRIGGER organisations_epoch_insert AFTER INSERT ON organisations
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER organisations_epoch_update AFTER UPDATE ON organisations
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER organisations_epoch_delete AFTER DELETE ON organisations
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_members_epoch_insert AFTER INSERT ON org_members
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_members_epoch_update AFTER UPDATE ON org_members
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_members_epoch_delete AFTER DELETE ON org_members
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_rights_epoch_insert AFTER INSERT ON org_rights
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_rights_epoch_update AFTER UPDATE ON org_rights
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER org_rights_epoch_delete AFTER DELETE ON org_rights
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER mandates_epoch_insert AFTER INSERT ON mandates
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER mandates_epoch_update AFTER UPDATE ON mandates
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER mandates_epoch_delete AFTER DELETE ON mandates
BEGIN
    INSERT INTO org_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
