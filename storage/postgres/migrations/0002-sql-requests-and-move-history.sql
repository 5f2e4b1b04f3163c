-- SQL-side control and a move history kept in PostgreSQL (so it outlives Temporal's retention).

-- The tables each running deployment tiers, as its config says: every ducktier worker publishes its own at start, so a
-- request made in SQL is checked against them in the call itself.
CREATE TABLE ducktier.policies (
  task_queue         text        NOT NULL,
  table_schema       text        NOT NULL,
  table_name         text        NOT NULL,
  time_column        text        NOT NULL,
  partition_interval text        NOT NULL,
  hot_window         interval    NOT NULL,
  cold_table         text        NOT NULL,
  published_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_queue, table_schema, table_name)
);

-- A request made in SQL (psql, an application, pg_cron): who asked, when, what; then which workflow ran it and how it
-- ended. A worker of a deployment with a policy for the table claims it (status started, its workflow ID derived from
-- the request's ID, so starting it again finds the same run) and records the outcome.
CREATE TABLE ducktier.requests (
  id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation      text        NOT NULL CHECK (operation IN ('migrate')),
  table_schema   text        NOT NULL,
  table_name     text        NOT NULL,
  partition_name text,
  older_than     interval,
  requested_by   text        NOT NULL DEFAULT session_user,
  application    text        DEFAULT nullif(current_setting('application_name', true), ''),
  requested_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'started', 'succeeded', 'failed')),
  task_queue     text,
  workflow_id    text,
  run_id         text,
  started_at     timestamptz,
  finished_at    timestamptz,
  -- how each partition's move ended (the migration's result)
  outcomes       jsonb,
  error          text
);
CREATE INDEX requests_open ON ducktier.requests (id) WHERE status IN ('pending', 'started');

-- SELECT ducktier.request_migration('public.events');                       every partition past the hot window
-- SELECT ducktier.request_migration('public.events', 'events_p20261120');   one partition
-- SELECT ducktier.request_migration('public.events', older_than => '1 day'); a shorter threshold for this run
-- A wrong table, partition or interval fails here, in the call; nothing is recorded then. The row and its NOTIFY go
-- together: both take effect when the caller's transaction commits, neither if it rolls back.
CREATE FUNCTION ducktier.request_migration(
  p_table regclass,
  p_partition regclass DEFAULT NULL,
  older_than interval DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_schema   text;
  v_table    text;
  request_id bigint;
BEGIN
  IF p_table IS NULL THEN
    RAISE EXCEPTION 'ducktier: request_migration needs a table' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT n.nspname, c.relname INTO v_schema, v_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table;
  IF NOT EXISTS (SELECT 1 FROM ducktier.policies p WHERE p.table_schema = v_schema AND p.table_name = v_table) THEN
    RAISE EXCEPTION 'ducktier: table % has no ducktier policy', p_table
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'add it to the tables of ducktier''s config; a running ducktier worker publishes its policies in ducktier.policies';
  END IF;
  IF p_partition IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_inherits WHERE inhrelid = p_partition AND inhparent = p_table) THEN
    RAISE EXCEPTION 'ducktier: % is not a partition of %', p_partition, p_table USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF older_than IS NOT NULL AND older_than <= interval '0' THEN
    RAISE EXCEPTION 'ducktier: older_than must be positive, got %', older_than USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF older_than IS NOT NULL AND p_partition IS NOT NULL THEN
    RAISE EXCEPTION 'ducktier: give a partition or older_than, not both' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO ducktier.requests (operation, table_schema, table_name, partition_name, older_than)
  VALUES ('migrate', v_schema, v_table,
          (SELECT relname FROM pg_class WHERE oid = p_partition), older_than)
  RETURNING id INTO request_id;
  PERFORM pg_notify('ducktier_requests', request_id::text);
  RETURN request_id;
END
$fn$;
-- Asking ducktier to move data is for roles granted it: GRANT EXECUTE ON FUNCTION
-- ducktier.request_migration(regclass, regclass, interval) TO some_role (with USAGE on schema ducktier).
REVOKE ALL ON FUNCTION ducktier.request_migration(regclass, regclass, interval) FROM PUBLIC;

-- One row per run of a partition's move workflow, started by its first step and finished by its last (the unlock);
-- its outcome recorded by the step that decides it (the drop, a plan finding it cold, the failure's record).
CREATE TABLE ducktier.move_runs (
  workflow_id        text        NOT NULL,
  run_id             text        NOT NULL,
  table_schema       text        NOT NULL,
  table_name         text        NOT NULL,
  partition_name     text        NOT NULL,
  started_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at        timestamptz,
  outcome            text        CHECK (outcome IN ('moved', 'already-cold', 'failed', 'cancelled')),
  rows               bigint,
  error              text,
  PRIMARY KEY (workflow_id, run_id)
);
CREATE INDEX move_runs_started_at ON ducktier.move_runs (started_at);

-- One row per attempt of a step, written by the step itself as it starts and ends. An attempt with no end and a later
-- attempt after it was lost: its worker died or stopped answering.
CREATE TABLE ducktier.move_step_attempts (
  workflow_id text        NOT NULL,
  run_id      text        NOT NULL,
  activity_id text        NOT NULL,
  step        text        NOT NULL,
  attempt     integer     NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  succeeded   boolean,
  rows        bigint,
  -- the partition's size in PostgreSQL when its copy started: what the move takes off the hot tier
  bytes       bigint,
  error       text,
  PRIMARY KEY (workflow_id, run_id, activity_id, attempt),
  FOREIGN KEY (workflow_id, run_id) REFERENCES ducktier.move_runs ON DELETE CASCADE
);

-- Each step of each move: its attempts, how long it took from its first start to its end, and why attempts failed.
CREATE VIEW ducktier.move_steps AS
SELECT r.workflow_id, r.run_id, r.table_schema, r.table_name, r.partition_name, s.step, s.activity_id,
       s.started_at, s.finished_at, s.finished_at - s.started_at AS duration,
       s.attempts, s.failed_attempts,
       CASE WHEN s.last_succeeded THEN 'succeeded'
            WHEN s.last_succeeded = false THEN 'failed'
            WHEN r.finished_at IS NULL THEN 'running'
            ELSE 'lost' END AS outcome,
       s.rows, s.bytes,
       round(s.rows / nullif(extract(epoch FROM s.succeeded_duration), 0)) AS rows_per_second,
       s.errors
  FROM ducktier.move_runs r
  JOIN LATERAL (
    SELECT a.step, a.activity_id,
           min(a.started_at) AS started_at,
           (array_agg(a.finished_at ORDER BY a.attempt DESC))[1] AS finished_at,
           count(*) AS attempts,
           count(*) FILTER (WHERE a.failed) AS failed_attempts,
           (array_agg(a.succeeded ORDER BY a.attempt DESC))[1] AS last_succeeded,
           max(a.rows) FILTER (WHERE a.succeeded) AS rows,
           max(a.bytes) AS bytes,
           max(a.finished_at - a.started_at) FILTER (WHERE a.succeeded) AS succeeded_duration,
           coalesce(array_agg(format('attempt %s: %s', a.attempt, coalesce(a.error, 'lost: its worker stopped answering'))
                              ORDER BY a.attempt) FILTER (WHERE a.failed), '{}') AS errors
      FROM (
        -- An attempt failed when it said so, or when it never ended and a later attempt (or the move's end) followed.
        SELECT t.*, t.succeeded = false OR (t.succeeded IS NULL AND (t.attempt < max(t.attempt) OVER (PARTITION BY t.activity_id)
                                                                     OR r.finished_at IS NOT NULL)) AS failed
          FROM ducktier.move_step_attempts t
         WHERE t.workflow_id = r.workflow_id AND t.run_id = r.run_id
      ) a
     GROUP BY a.step, a.activity_id
  ) s ON true;

-- Each move: when, how long, how many rows and bytes, how fast, how many attempts failed, and how it ended.
CREATE VIEW ducktier.moves AS
SELECT r.workflow_id, r.run_id, r.table_schema, r.table_name, r.partition_name,
       r.started_at, r.finished_at, r.finished_at - r.started_at AS duration,
       coalesce(r.outcome, 'running') AS outcome,
       r.rows, s.bytes,
       round(r.rows / nullif(extract(epoch FROM r.finished_at - r.started_at), 0)) AS rows_per_second,
       coalesce(s.attempts, 0) AS attempts, coalesce(s.failed_attempts, 0) AS failed_attempts,
       r.error
  FROM ducktier.move_runs r
  LEFT JOIN LATERAL (
    SELECT sum(st.attempts) AS attempts, sum(st.failed_attempts) AS failed_attempts, max(st.bytes) AS bytes
      FROM ducktier.move_steps st WHERE st.workflow_id = r.workflow_id AND st.run_id = r.run_id
  ) s ON true;
