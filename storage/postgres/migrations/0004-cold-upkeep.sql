-- The cold tier's upkeep: leases of the lake snapshots running reports read, the record of each maintenance run, and
-- partitions retired by cold retention.

-- A report on a lake pins one lake snapshot and may read its files for as long as it runs. It takes a lease first (a
-- row here, committed under the maintenance lock's shared side), and maintenance keeps every snapshot from the lease's
-- version on, and every file scheduled for deletion since the lease was taken, until the lease is released or expires.
CREATE TABLE ducktier.cold_read_leases (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  lake_version bigint      NOT NULL,
  holder       text        NOT NULL,
  taken_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at   timestamptz NOT NULL
);

-- One row per maintenance run: what it merged, expired and removed, and the cold tier's size before and after.
CREATE TABLE ducktier.cold_maintenance_runs (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  format      text        NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  summary     jsonb       NOT NULL
);

-- Cold partitions retired by cold retention: archived (optional) and checked, then deleted from the cold tier. The move
-- record goes to state 'retired' in the same transaction as retired_at, so reports stop reading the partition before its
-- cold rows are deleted (deleted_at).
CREATE TABLE ducktier.cold_retirements (
  table_schema     text        NOT NULL,
  table_name       text        NOT NULL,
  partition_name   text        NOT NULL,
  cold_table       text        NOT NULL,
  rows             bigint,
  fingerprint      text,
  archive_path     text,
  archived_at      timestamptz,
  retired_at       timestamptz,
  deleted_at       timestamptz,
  PRIMARY KEY (table_schema, table_name, partition_name)
);

ALTER TABLE ducktier.partition_moves DROP CONSTRAINT IF EXISTS partition_moves_state_check;
ALTER TABLE ducktier.partition_moves ADD CONSTRAINT partition_moves_state_check
  CHECK (state IN ('copying', 'copied', 'verified', 'detached', 'cold', 'failed', 'compensated', 'retired'));
