-- The latest status of every edge, as sync's propagation monitor last reported it
-- (POST /api/v1/edges/report). Operational data, not configuration: not audited, not in
-- snapshots, overwritten by each report. Times are Unix milliseconds.
CREATE TABLE edge_statuses (
    edge_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- The environment the edge serves; NULL while no one has learned it (never reached).
    environment TEXT,
    served_version BIGINT,
    -- What the reporter computed; core recomputes lag and stuck from its own snapshots.
    reported_latest_version BIGINT,
    reported_lag_ms BIGINT NOT NULL,
    reported_stuck BIGINT NOT NULL,
    stuck_after_ms BIGINT NOT NULL,
    last_error TEXT,
    checked_at BIGINT,
    reported_by TEXT NOT NULL,
    reported_at BIGINT NOT NULL
);
CREATE INDEX edge_statuses_by_environment ON edge_statuses(environment);
