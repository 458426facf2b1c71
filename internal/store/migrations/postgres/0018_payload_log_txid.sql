-- Drift monitoring reads each deployment's payload log in windows, from where the last
-- window stopped. Servers sharing the database insert records side by side, and a record
-- can commit after one with a higher id is read: reading by id would skip it. So every
-- record carries the transaction that wrote it, and a window takes the records of the
-- transactions that have all ended (below the oldest one still running), in
-- (transaction, id) order: no record is skipped or read twice.
ALTER TABLE payload_log ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX payload_log_by_txid ON payload_log (deployment, txid, id);
