-- Chronosched schema, version 1.
-- Tables: namespaces, job_definitions, dags, jobs, job_dependencies, workers, job_logs, api_tokens,
-- scheduler_events, and the *_history tables that prune moves dead rows into.
-- The state machine lives here as CHECK constraints (see docs/architecture.md).

-- ---------------------------------------------------------------- namespaces
CREATE TABLE namespaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted     boolean NOT NULL DEFAULT false,
    deleted_at  timestamptz,
    CHECK (deleted = (deleted_at IS NOT NULL))
);
CREATE UNIQUE INDEX namespaces_live_name ON namespaces (name) WHERE NOT deleted;
INSERT INTO namespaces (name, description) VALUES ('default', 'The default namespace');

-- ---------------------------------------------------------------- job definitions
CREATE TABLE job_definitions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    namespace_id      uuid NOT NULL REFERENCES namespaces (id),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version           integer NOT NULL CHECK (version >= 1),
    kind              text NOT NULL CHECK (kind IN ('cmd', 'http', 'binary', 'python')),
    payload_template  jsonb NOT NULL DEFAULT '{}'::jsonb,
    cron_spec         text,
    timezone          text NOT NULL DEFAULT 'UTC',
    delay_interval    interval NOT NULL DEFAULT '0'::interval CHECK (delay_interval >= '0'::interval),
    priority          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_seconds   double precision CHECK (timeout_seconds > 0),
    backoff_base_seconds double precision NOT NULL DEFAULT 1 CHECK (backoff_base_seconds >= 0),
    backoff_max_seconds  double precision NOT NULL DEFAULT 300 CHECK (backoff_max_seconds >= 0),
    catchup           text NOT NULL DEFAULT 'latest' CHECK (catchup IN ('latest', 'none', 'all')),
    catchup_limit     integer NOT NULL DEFAULT 100 CHECK (catchup_limit BETWEEN 1 AND 10000),
    overlap           text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip')),
    description       text NOT NULL DEFAULT '',
    paused            boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    deleted           boolean NOT NULL DEFAULT false,
    deleted_at        timestamptz,
    CHECK (deleted = (deleted_at IS NOT NULL)),
    UNIQUE (namespace_id, name, version)
);
-- Names are unique among the live definitions of a namespace.
CREATE UNIQUE INDEX job_definitions_live_name ON job_definitions (namespace_id, name) WHERE NOT deleted;
CREATE INDEX job_definitions_cron ON job_definitions (id) WHERE cron_spec IS NOT NULL AND NOT deleted;

-- Versions never repeat, even after prune: the highest version ever issued per name is kept here
-- and never pruned. The row lock taken by the upsert also serialises concurrent creators.
CREATE TABLE definition_versions (
    namespace_id uuid NOT NULL,
    name         text NOT NULL,
    last_version integer NOT NULL,
    PRIMARY KEY (namespace_id, name)
);

CREATE FUNCTION chronosched_definition_version_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_issued integer;
BEGIN
    INSERT INTO definition_versions (namespace_id, name, last_version)
    VALUES (NEW.namespace_id, NEW.name, 0)
    ON CONFLICT (namespace_id, name) DO NOTHING;
    SELECT last_version INTO last_issued FROM definition_versions
     WHERE namespace_id = NEW.namespace_id AND name = NEW.name
       FOR UPDATE;
    IF NEW.version <= last_issued THEN
        RAISE EXCEPTION 'definition "%" version % was already issued (latest is %)',
            NEW.name, NEW.version, last_issued
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'job_definitions_version_reused';
    END IF;
    UPDATE definition_versions SET last_version = NEW.version
     WHERE namespace_id = NEW.namespace_id AND name = NEW.name;
    RETURN NEW;
END
$$;

-- Immutability: only the lifecycle columns may change after insert.
CREATE FUNCTION chronosched_definition_immutable_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.namespace_id, NEW.name, NEW.version, NEW.kind, NEW.payload_template,
        NEW.cron_spec, NEW.timezone, NEW.delay_interval, NEW.priority, NEW.max_attempts,
        NEW.timeout_seconds, NEW.backoff_base_seconds, NEW.backoff_max_seconds, NEW.catchup,
        NEW.catchup_limit, NEW.overlap, NEW.description, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.namespace_id, OLD.name, OLD.version, OLD.kind, OLD.payload_template,
        OLD.cron_spec, OLD.timezone, OLD.delay_interval, OLD.priority, OLD.max_attempts,
        OLD.timeout_seconds, OLD.backoff_base_seconds, OLD.backoff_max_seconds, OLD.catchup,
        OLD.catchup_limit, OLD.overlap, OLD.description, OLD.created_at) THEN
        RAISE EXCEPTION 'job definitions are immutable: create a new version instead'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'job_definitions_immutable';
    END IF;
    IF OLD.deleted AND NOT NEW.deleted THEN
        RAISE EXCEPTION 'a deleted definition version cannot be revived'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'job_definitions_immutable';
    END IF;
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------- DAGs
CREATE TABLE dags (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    namespace_id uuid NOT NULL REFERENCES namespaces (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    deleted      boolean NOT NULL DEFAULT false,
    deleted_at   timestamptz,
    CHECK (deleted = (deleted_at IS NOT NULL)),
    UNIQUE (namespace_id, name, version)
);
CREATE UNIQUE INDEX dags_live_name ON dags (namespace_id, name) WHERE NOT deleted;

-- ---------------------------------------------------------------- jobs
-- The hot table: every job is claimed (UPDATE) and completed (UPDATE) once at least. A lower
-- fillfactor leaves room on each page so those updates stay HOT (no index churn), and
-- autovacuum runs far more often than the default 20% dead-tuple threshold would allow.
CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- copied from the definition (which references the namespace): no foreign key of its own,
    -- one check less per inserted job (cron rounds insert thousands at once).
    namespace_id     uuid NOT NULL,
    dag_id           uuid REFERENCES dags (id),
    def_id           uuid NOT NULL REFERENCES job_definitions (id),
    def_version      integer NOT NULL,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('cmd', 'http', 'binary', 'python')),
    version          integer NOT NULL DEFAULT 1,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN
                        ('waiting', 'queued', 'running', 'succeeded', 'failed', 'cancelled',
                         'upstream_failed')),
    priority         integer NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL DEFAULT now(),
    delay_interval   interval NOT NULL DEFAULT '0'::interval,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    result           jsonb,
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    timeout_seconds  double precision,
    lease_owner      text,
    lease_until      timestamptz,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    last_error       text,
    scheduled_for    timestamptz,
    deleted          boolean NOT NULL DEFAULT false,
    -- readiness bookkeeping (maintained by triggers; see chronosched_job_transition_v1)
    parent_count     integer NOT NULL DEFAULT 0 CHECK (parent_count >= 0),
    child_count      integer NOT NULL DEFAULT 0 CHECK (child_count >= 0),
    unmet_count      integer NOT NULL DEFAULT 0 CHECK (unmet_count >= 0),
    upstream_failed_from bigint,
    CONSTRAINT jobs_lease_only_while_running CHECK (
        (status = 'running') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL)),
    CONSTRAINT jobs_finished_only_when_terminal CHECK (
        (status IN ('succeeded', 'failed', 'cancelled', 'upstream_failed'))
        = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_waiting_means_unmet CHECK (status <> 'waiting' OR unmet_count > 0),
    CONSTRAINT jobs_ready_means_met CHECK (status NOT IN ('queued', 'running') OR unmet_count = 0),
    CONSTRAINT jobs_upstream_failed_names_ancestor CHECK (
        (status = 'upstream_failed') = (upstream_failed_from IS NOT NULL)),
    CONSTRAINT jobs_started_when_attempted CHECK (attempt = 0 OR started_at IS NOT NULL),
    CONSTRAINT jobs_attempts_bounded CHECK (attempt <= max_attempts OR status <> 'running')
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_limit = 2000
);
-- Every claim and completion changes `status`, which partial-index predicates read, so those
-- updates cannot be HOT and touch every index: keep the hot table's indexes few and partial.
-- A cron tick produces at most one job per definition; non-cron jobs are not in this index.
CREATE UNIQUE INDEX jobs_cron_tick ON jobs (def_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
-- Exactly the claim query's WHERE and ORDER BY: only queued rows are in it, so it stays small.
CREATE INDEX jobs_claim ON jobs (priority DESC, due_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_dag ON jobs (dag_id, id) WHERE dag_id IS NOT NULL;
CREATE INDEX jobs_def_runs ON jobs (def_id, id DESC);
CREATE INDEX jobs_prunable ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- ---------------------------------------------------------------- dependencies
-- Both ends must be jobs of the same DAG: enforced by a statement-level trigger (migration 0002)
-- rather than composite foreign keys, which would need one more unique index on the hot table.
CREATE TABLE job_dependencies (
    dag_id          uuid NOT NULL,
    parent_job_id   bigint NOT NULL,
    child_job_id    bigint NOT NULL,
    dependency_type text NOT NULL DEFAULT 'data' CHECK (dependency_type IN ('data', 'order-only')),
    met             boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_job_id, child_job_id),
    CONSTRAINT job_dependencies_no_self_edge CHECK (parent_job_id <> child_job_id),
    FOREIGN KEY (parent_job_id) REFERENCES jobs (id),
    FOREIGN KEY (child_job_id) REFERENCES jobs (id),
    FOREIGN KEY (dag_id) REFERENCES dags (id)
);
CREATE INDEX job_dependencies_child ON job_dependencies (child_job_id);
CREATE INDEX job_dependencies_dag ON job_dependencies (dag_id);

-- ---------------------------------------------------------------- workers, logs, tokens, events
CREATE TABLE workers (
    id             text PRIMARY KEY,
    host           text NOT NULL,
    pid            integer NOT NULL,
    kinds          text[] NOT NULL,
    concurrency    integer NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    running        integer NOT NULL DEFAULT 0,
    stopped_at     timestamptz
);

-- Output tails (bounded by the executors to 64 KiB per stream) and errors, one row per attempt.
CREATE TABLE job_logs (
    job_id     bigint NOT NULL,
    attempt    integer NOT NULL,
    worker_id  text,
    stdout     text NOT NULL DEFAULT '' CHECK (length(stdout) <= 65536),
    stderr     text NOT NULL DEFAULT '' CHECK (length(stderr) <= 65536),
    error      text CHECK (length(error) <= 65536),
    exit_code  integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Visible traces of scheduler decisions (skipped overlaps, catch-up), bounded by prune.
CREATE TABLE scheduler_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    def_id        uuid NOT NULL,
    scheduled_for timestamptz,
    event         text NOT NULL,
    detail        text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduler_events_def ON scheduler_events (def_id, id DESC);

-- ---------------------------------------------------------------- history
CREATE TABLE job_definitions_history (LIKE job_definitions INCLUDING DEFAULTS);
ALTER TABLE job_definitions_history ADD COLUMN pruned_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX job_definitions_history_name ON job_definitions_history (namespace_id, name);
CREATE TABLE dags_history (LIKE dags INCLUDING DEFAULTS);
ALTER TABLE dags_history ADD COLUMN pruned_at timestamptz NOT NULL DEFAULT now();
CREATE TABLE jobs_history (LIKE jobs INCLUDING DEFAULTS);
ALTER TABLE jobs_history ALTER COLUMN id DROP IDENTITY IF EXISTS;
ALTER TABLE jobs_history ADD COLUMN pruned_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX jobs_history_id ON jobs_history (id);
CREATE INDEX jobs_history_dag ON jobs_history (dag_id);
CREATE TABLE job_dependencies_history (LIKE job_dependencies INCLUDING DEFAULTS);
ALTER TABLE job_dependencies_history ADD COLUMN pruned_at timestamptz NOT NULL DEFAULT now();
CREATE TABLE job_logs_history (LIKE job_logs INCLUDING DEFAULTS);
ALTER TABLE job_logs_history ADD COLUMN pruned_at timestamptz NOT NULL DEFAULT now();

CREATE TRIGGER chronosched_definition_version
    BEFORE INSERT ON job_definitions
    FOR EACH ROW EXECUTE FUNCTION chronosched_definition_version_v1();
CREATE TRIGGER chronosched_definition_immutable
    BEFORE UPDATE ON job_definitions
    FOR EACH ROW EXECUTE FUNCTION chronosched_definition_immutable_v1();
