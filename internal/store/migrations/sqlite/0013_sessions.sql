-- Single sign-on: the users an OpenID provider vouches for, and the browser sessions
-- they sign in to. A session's secret is never stored: only its SHA-256, as a token's.
CREATE TABLE user_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash  BLOB    NOT NULL UNIQUE, -- SHA-256 of the cookie's value
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,        -- the session's end, however active
    last_seen_at INTEGER NOT NULL,
    idle_timeout INTEGER NOT NULL         -- ms: the session ends when unused this long
);
CREATE INDEX sessions_by_user ON sessions (user_id);
