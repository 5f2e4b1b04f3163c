-- Restores, cold retention and erasures.

-- A restored partition is hot again ('restored'); one past its cold retention is gone from both tiers ('expired').
ALTER TABLE ducktier.partition_moves DROP CONSTRAINT partition_moves_state_check;
ALTER TABLE ducktier.partition_moves ADD CONSTRAINT partition_moves_state_check CHECK (state IN (
  'copying', 'copied', 'verified', 'detached', 'cold', 'failed', 'compensated', 'restored', 'expired'));

-- A restored partition stays hot until then: scheduled migrations leave it alone before.
ALTER TABLE ducktier.partition_moves ADD COLUMN keep_hot_until timestamptz;
-- Where the cold retention exported the partition (a Parquet file) before it deleted it.
ALTER TABLE ducktier.partition_moves ADD COLUMN archived_to text;

-- What each erasure deleted, per tier and partition, recorded in the transaction that deleted it (hot) or before the
-- delete it counts (cold), so a repeated erasure reports exact counts.
CREATE TABLE ducktier.erasures (
  erase_id       text        NOT NULL,
  table_schema   text        NOT NULL,
  table_name     text        NOT NULL,
  tier           text        NOT NULL CHECK (tier IN ('hot', 'cold')),
  -- '' for the hot tier's one DELETE through the parent
  partition_name text        NOT NULL,
  rows           bigint      NOT NULL,
  condition      text        NOT NULL,
  erased_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (erase_id, tier, partition_name)
);
