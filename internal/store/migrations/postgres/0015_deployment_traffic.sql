-- What each role of each deployment answered, per hour: the durable side of the live
-- stats, kept for the overview's 30 days and a deployment's history. Every server adds
-- its counts to the hour's row (an upsert that sums), so replicas sharing the database
-- add up. Latency is a histogram over the serving histograms' 18 bounds (100 µs to
-- 30 s, exponential), b00 to b17, and b18 above the last bound.
CREATE TABLE deployment_traffic (
    deployment    TEXT COLLATE "C"    NOT NULL,
    role          TEXT COLLATE "C"    NOT NULL, -- primary, canary or shadow
    hour          BIGINT  NOT NULL, -- the hour's start, Unix seconds
    requests      BIGINT  NOT NULL DEFAULT 0,
    failures      BIGINT  NOT NULL DEFAULT 0,
    client_errors BIGINT  NOT NULL DEFAULT 0, -- failures due to bad input
    latency_sum   DOUBLE PRECISION    NOT NULL DEFAULT 0, -- seconds, over the answered requests
    b00 BIGINT  NOT NULL DEFAULT 0, b01 BIGINT  NOT NULL DEFAULT 0, b02 BIGINT  NOT NULL DEFAULT 0,
    b03 BIGINT  NOT NULL DEFAULT 0, b04 BIGINT  NOT NULL DEFAULT 0, b05 BIGINT  NOT NULL DEFAULT 0,
    b06 BIGINT  NOT NULL DEFAULT 0, b07 BIGINT  NOT NULL DEFAULT 0, b08 BIGINT  NOT NULL DEFAULT 0,
    b09 BIGINT  NOT NULL DEFAULT 0, b10 BIGINT  NOT NULL DEFAULT 0, b11 BIGINT  NOT NULL DEFAULT 0,
    b12 BIGINT  NOT NULL DEFAULT 0, b13 BIGINT  NOT NULL DEFAULT 0, b14 BIGINT  NOT NULL DEFAULT 0,
    b15 BIGINT  NOT NULL DEFAULT 0, b16 BIGINT  NOT NULL DEFAULT 0, b17 BIGINT  NOT NULL DEFAULT 0,
    b18 BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment, role, hour)
);
-- Pruning past the retention period reads by hour alone.
CREATE INDEX deployment_traffic_by_hour ON deployment_traffic (hour);
