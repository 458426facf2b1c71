-- Permissions on objects: what a user or a team may do with one experiment, registered
-- model, dataset or deployment. A grant of level NONE is an explicit denial. Teams are
-- groups of users; a team's grants hold for each of its members.
CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

-- Exactly one of user_id and team_id is set. object_id is an experiment's id, or a
-- registered model's, a dataset's or a deployment's name.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    object_id  TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    team_id    INTEGER REFERENCES teams (id) ON DELETE CASCADE,
    level      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE UNIQUE INDEX grants_by_user ON grants (kind, object_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX grants_by_team ON grants (kind, object_id, team_id) WHERE team_id IS NOT NULL;
CREATE INDEX grants_of_user ON grants (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX grants_of_team ON grants (team_id) WHERE team_id IS NOT NULL;
