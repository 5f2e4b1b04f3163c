-- A lake's manifest: insert-only, one row per write (op 'write') or removal (op 'delete') of a partition's cold rows,
-- committed with the rows; the latest row per partition, by the lake snapshot that committed it, is the one that serves
-- (storage/cold/cold-manifest.ts). A DuckLake table takes no keys and no computed defaults.
CREATE TABLE ducktier_cold_partitions (
  table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, partition_name VARCHAR NOT NULL,
  cold_table VARCHAR NOT NULL, rows BIGINT NOT NULL, write_id VARCHAR, op VARCHAR NOT NULL,
  written_at TIMESTAMPTZ NOT NULL);
