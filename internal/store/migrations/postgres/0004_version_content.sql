-- The digest of the content-addressed manifest holding a version's files, copied when the
-- version was created; empty when its source is not stored here or held no files.
ALTER TABLE model_versions ADD COLUMN manifest_digest TEXT COLLATE "C" NOT NULL DEFAULT '';
