-- Identities: users (who sign in with a password) and service accounts (who only hold
-- tokens), and the API tokens either holds. Secrets are never stored: a password as its
-- argon2id hash, a token as the SHA-256 of its random bytes.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,            -- user or service
    password_hash TEXT    NOT NULL DEFAULT '', -- argon2id, PHC string; '' signs in with tokens only
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE, -- SHA-256 of the token
    scopes       TEXT    NOT NULL,        -- read,write,deploy,admin
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,                 -- NULL: never
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);
