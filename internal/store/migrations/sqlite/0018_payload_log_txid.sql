-- On PostgreSQL, payload records carry their writing transaction for drift windows read
-- by several servers (see its 0018). SQLite has one writer, whose ids follow commit
-- order: a window reads by id there, and nothing changes.
SELECT 1;
