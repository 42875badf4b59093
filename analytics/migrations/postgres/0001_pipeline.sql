-- The analytics pipeline's state. Times are Unix milliseconds; 128-bit sums are decimal TEXT.

-- One row: the sequence number of the last commit. Every commit increments it, only if it still
-- holds the value the committer last saw (optimistic concurrency between workers).
CREATE TABLE pipeline_meta (
    id BIGINT PRIMARY KEY,
    commit_seq BIGINT NOT NULL
);
INSERT INTO pipeline_meta (id, commit_seq) VALUES (1, 0);

-- Per stream and shard: the position after the last record committed, whether the shard has
-- been read to its end, and running counts.
CREATE TABLE checkpoints (
    stream TEXT NOT NULL,
    shard TEXT NOT NULL,
    position TEXT,
    finished BIGINT NOT NULL DEFAULT 0,
    records BIGINT NOT NULL DEFAULT 0,
    events BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    invalid BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, shard)
);

-- Which worker reads which shard, until when.
CREATE TABLE leases (
    stream TEXT NOT NULL,
    shard TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (stream, shard)
);

-- Workers alive on a stream (their last heartbeat), to split its shards fairly.
CREATE TABLE workers (
    stream TEXT NOT NULL,
    worker TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    PRIMARY KEY (stream, worker)
);

-- Per commit: the facts (exposures and tracked events per unit) it added, deflated.
CREATE TABLE fact_chunks (
    seq BIGINT PRIMARY KEY,
    data BYTEA NOT NULL
);

-- Per commit and hour of event time: the 128-bit hashes of the event ids it kept.
CREATE TABLE dedup_chunks (
    seq BIGINT NOT NULL,
    hour BIGINT NOT NULL,
    ids BYTEA NOT NULL,
    PRIMARY KEY (seq, hour)
);
CREATE INDEX dedup_chunks_hour ON dedup_chunks (hour);

-- Sufficient statistics per stream, shard, experiment, variant, series and day of first
-- exposure. Each shard's rows are written only by the holder of its lease; results add them up.
CREATE TABLE aggregates (
    stream TEXT NOT NULL,
    shard TEXT NOT NULL,
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    series TEXT NOT NULL,
    day BIGINT NOT NULL,
    n BIGINT NOT NULL,
    sx TEXT NOT NULL,
    sxx TEXT NOT NULL,
    sy TEXT NOT NULL,
    syy TEXT NOT NULL,
    sxy TEXT NOT NULL,
    PRIMARY KEY (stream, shard, experiment, variant, series, day)
);
CREATE INDEX aggregates_experiment ON aggregates (experiment);

-- Computed results, with their computation time.
CREATE TABLE results (
    experiment TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (experiment, computed_at)
);
