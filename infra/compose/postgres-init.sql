-- Run once by the postgres image on an empty data directory (infra/compose.yaml).
-- core migrates the database `vane`; analytics migrates its own.
CREATE DATABASE vane_analytics OWNER vane;
