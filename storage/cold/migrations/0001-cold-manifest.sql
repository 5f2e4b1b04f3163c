-- The cold store's manifest as release 0.1.0 left it: what each move wrote, committed with the rows. Safe to run over a
-- file that release set up before schemas were versioned.
CREATE TABLE IF NOT EXISTS ducktier_cold_partitions (
  table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, partition_name VARCHAR NOT NULL,
  cold_table VARCHAR NOT NULL, rows BIGINT NOT NULL, written_at TIMESTAMPTZ NOT NULL, write_id VARCHAR,
  PRIMARY KEY (table_schema, table_name, partition_name));

-- Added during 0.1.0's development: files set up before then gain it here.
ALTER TABLE ducktier_cold_partitions ADD COLUMN IF NOT EXISTS write_id VARCHAR;
