-- Dataset versions: files registered by content, with their schema and profile.
CREATE TABLE dataset_versions (
    name             TEXT COLLATE "C"    NOT NULL,
    version          BIGINT  NOT NULL,
    digest           TEXT COLLATE "C"    NOT NULL, -- manifest of the data file: the version's identity
    file             TEXT COLLATE "C"    NOT NULL,
    format           TEXT COLLATE "C"    NOT NULL,
    size             BIGINT  NOT NULL,
    rows             BIGINT  NOT NULL,
    schema           TEXT COLLATE "C"    NOT NULL, -- JSON
    profile_manifest TEXT COLLATE "C"    NOT NULL, -- manifest holding profile.json
    description      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX dataset_versions_by_digest ON dataset_versions (name, digest);
CREATE INDEX dataset_versions_digest ON dataset_versions (digest);
