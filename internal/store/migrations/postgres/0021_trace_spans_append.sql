-- attributes is a span's attributes as MLflow shows them, a JSON object of each
-- attribute's value as JSON text ({"mlflow.spanType": "\"LLM\""}), for searches on span
-- attributes. (On SQLite this migration also makes trace_spans a table appended in
-- arrival order; PostgreSQL's tables are heaps already.)
ALTER TABLE trace_spans ADD COLUMN attributes JSONB;
