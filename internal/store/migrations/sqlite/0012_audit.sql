-- The audit trail: one row per state-changing request, written in the same transaction
-- as the change it records (or, for a refused or failed request, on its own after the
-- answer). Rows name their object by kind and name, never by a foreign key, so that the
-- trail outlives what it describes.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,             -- milliseconds since the epoch
    actor       TEXT    NOT NULL DEFAULT '',  -- the signed-in identity; '' without --auth or unsigned
    token_id    INTEGER,                      -- the token it signed in with, if any
    address     TEXT    NOT NULL DEFAULT '',  -- the client's address
    route       TEXT    NOT NULL,             -- METHOD /path pattern
    action      TEXT    NOT NULL,
    object_kind TEXT    NOT NULL DEFAULT '',
    object      TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL,             -- succeeded, failed or denied
    status      INTEGER NOT NULL DEFAULT 0,   -- the HTTP status, when known
    request_id  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_object ON audit_log (object_kind, object, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
