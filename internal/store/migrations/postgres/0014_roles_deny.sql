-- MLflow 3's roles are mlship's teams, and a role permission is a team's grant: their
-- ids are handed to clients, who name them again to change or delete them. Ids taken
-- from id_sequences are never taken again after a delete (SQLite reuses the highest
-- rowid once its row is gone), so a stale id names nothing rather than a newer object.
CREATE TABLE id_sequences (
    name TEXT COLLATE "C"    PRIMARY KEY, -- the table whose ids it hands out
    last BIGINT  NOT NULL     -- the last id handed out
);
INSERT INTO id_sequences (name, last) SELECT 'teams', COALESCE(MAX(id), 0) FROM teams;
INSERT INTO id_sequences (name, last) SELECT 'grants', COALESCE(MAX(id), 0) FROM grants;

-- A granted NO_PERMISSIONS was an explicit denial; MLflow 3 names it DENY, and
-- NO_PERMISSIONS is now only the absence of a grant.
UPDATE grants SET level = 'DENY' WHERE level = 'NO_PERMISSIONS';
