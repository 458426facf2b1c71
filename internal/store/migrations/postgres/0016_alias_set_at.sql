-- When each alias last moved, and when it was first set, whatever API moved it. 0:
-- set before this migration (the alias audit, kept for protected aliases, may know).
ALTER TABLE registered_model_aliases ADD COLUMN set_at BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE registered_model_aliases ADD COLUMN first_set_at BIGINT  NOT NULL DEFAULT 0;
