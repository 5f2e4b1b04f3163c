-- ducktier's own tables in PostgreSQL as release 0.1.0 left them. Written to be safe to run over a database that
-- release set up before schemas were versioned: every statement converges on the same result.

CREATE SCHEMA IF NOT EXISTS ducktier;

-- Where each moved partition stands. Reports read it in the same snapshot as the hot rows: cold rows count only for
-- partitions recorded as detached or cold.
CREATE TABLE IF NOT EXISTS ducktier.partition_moves (
  table_schema          text        NOT NULL,
  table_name            text        NOT NULL,
  partition_name        text        NOT NULL,
  range_from            timestamptz,
  range_to              timestamptz,
  state                 text        NOT NULL CHECK (state IN ('copying', 'copied', 'verified', 'detached', 'cold', 'failed', 'compensated')),
  rows                  bigint,
  workflow_id           text,
  started_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  error                 text,
  truncated_during_move boolean     NOT NULL DEFAULT false,
  cold_write_id         text,
  PRIMARY KEY (table_schema, table_name, partition_name)
);

-- Added to the table during 0.1.0's development: databases set up before then gain them here.
ALTER TABLE ducktier.partition_moves ADD COLUMN IF NOT EXISTS truncated_during_move boolean NOT NULL DEFAULT false;
ALTER TABLE ducktier.partition_moves ADD COLUMN IF NOT EXISTS cold_write_id text;

-- A move's change capture (storage/postgres/pg-change-capture.ts): the instants written while the move is in flight.
CREATE TABLE IF NOT EXISTS ducktier.move_changes (
  table_schema   text        NOT NULL,
  table_name     text        NOT NULL,
  partition_name text        NOT NULL,
  at             timestamptz NOT NULL,
  -- copied to the cold tier (under the partition's lock) since it last changed
  synced         boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (table_schema, table_name, partition_name, at)
);

-- TG_ARGV: schema, table, time column. The partition is TG_TABLE_NAME, so the function serves every table.
CREATE OR REPLACE FUNCTION ducktier.capture_move_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog SET TimeZone = 'UTC' AS $fn$
   BEGIN
     IF TG_OP IN ('UPDATE', 'DELETE') THEN
       INSERT INTO ducktier.move_changes VALUES (TG_ARGV[0], TG_ARGV[1], TG_TABLE_NAME, (to_jsonb(OLD) ->> TG_ARGV[2])::timestamptz)
       ON CONFLICT ON CONSTRAINT move_changes_pkey DO UPDATE SET synced = false WHERE move_changes.synced;
     END IF;
     IF TG_OP IN ('INSERT', 'UPDATE') THEN
       INSERT INTO ducktier.move_changes VALUES (TG_ARGV[0], TG_ARGV[1], TG_TABLE_NAME, (to_jsonb(NEW) ->> TG_ARGV[2])::timestamptz)
       ON CONFLICT ON CONSTRAINT move_changes_pkey DO UPDATE SET synced = false WHERE move_changes.synced;
     END IF;
     RETURN NULL;
   END
   $fn$;

CREATE OR REPLACE FUNCTION ducktier.note_truncate_during_move() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
   BEGIN
     UPDATE ducktier.partition_moves SET truncated_during_move = true
      WHERE table_schema = TG_ARGV[0] AND table_name = TG_ARGV[1] AND partition_name = TG_TABLE_NAME;
     RETURN NULL;
   END
   $fn$;
