-- Restores and erasures.

-- A restored partition is hot again ('restored').
ALTER TABLE ducktier.partition_moves DROP CONSTRAINT partition_moves_state_check;
ALTER TABLE ducktier.partition_moves ADD CONSTRAINT partition_moves_state_check CHECK (state IN (
  'copying', 'copied', 'verified', 'detached', 'cold', 'failed', 'compensated', 'retired', 'restored'));

-- A restored partition stays hot until then: scheduled migrations leave it alone before.
ALTER TABLE ducktier.partition_moves ADD COLUMN keep_hot_until timestamptz;

-- What each erasure deleted, per tier and partition: the hot tier's in the transaction that deleted the rows, the cold
-- tier's before the delete it counts (under the partition's lock), so a repeated erasure reports exact counts.
CREATE TABLE ducktier.erasures (
  erase_id       text        NOT NULL,
  table_schema   text        NOT NULL,
  table_name     text        NOT NULL,
  tier           text        NOT NULL CHECK (tier IN ('hot', 'cold')),
  -- '' for the hot tier's DELETE through the parent
  partition_name text        NOT NULL,
  rows           bigint      NOT NULL,
  condition      text        NOT NULL,
  erased_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (erase_id, tier, partition_name)
);
