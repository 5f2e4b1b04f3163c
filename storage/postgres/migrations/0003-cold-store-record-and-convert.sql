-- Which cold store the deployment uses, and the conversions between formats (ducktier cold convert).

-- Each deployment's current cold store (a deployment is named by its main task queue; several may share a database):
-- written by the first process that uses the deployment, changed only by the switch at the end of a conversion. Every
-- worker, report, status and move compares its configured store with it.
CREATE TABLE ducktier.cold_store (
  task_queue     text        PRIMARY KEY,
  format         text        NOT NULL CHECK (format IN ('duckdb', 'ducklake')),
  -- The DuckDB file, or the lake's data path.
  location       text        NOT NULL,
  -- The lake's catalog schema; NULL for a DuckDB file.
  catalog_schema text,
  recorded_at    timestamptz NOT NULL DEFAULT now()
);

-- One conversion of the cold tier to another store. While one is 'copying', moves wait (their prepare step checks it);
-- 'switched' commits with the new ducktier.cold_store row; 'retired' once the old store is set aside.
CREATE TABLE ducktier.cold_conversions (
  id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_queue          text        NOT NULL,
  from_format         text        NOT NULL,
  from_location       text        NOT NULL,
  from_catalog_schema text,
  to_format           text        NOT NULL,
  to_location         text        NOT NULL,
  to_catalog_schema   text,
  state               text        NOT NULL DEFAULT 'copying' CHECK (state IN ('copying', 'switched', 'retired')),
  -- Where the old store was set aside (a renamed DuckDB file), or what was dropped (a lake's tables).
  retired_as          text,
  started_at          timestamptz NOT NULL DEFAULT now(),
  switched_at         timestamptz,
  retired_at          timestamptz
);

-- At most one conversion under way per deployment.
CREATE UNIQUE INDEX cold_conversions_one_open ON ducktier.cold_conversions (task_queue) WHERE state <> 'retired';

-- Each cold partition a conversion copies: listed from the old store's manifest, then copied and checked (its content
-- fingerprint in the new store equal to the old store's) one by one; a resumed conversion skips the verified ones.
CREATE TABLE ducktier.cold_conversion_partitions (
  conversion_id  bigint      NOT NULL REFERENCES ducktier.cold_conversions (id),
  table_schema   text        NOT NULL,
  table_name     text        NOT NULL,
  partition_name text        NOT NULL,
  cold_table     text        NOT NULL,
  write_id       text        NOT NULL,
  rows           bigint      NOT NULL,
  state          text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified')),
  fingerprint    text,
  verified_at    timestamptz,
  PRIMARY KEY (conversion_id, table_schema, table_name, partition_name)
);
