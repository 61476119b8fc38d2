-- Cron scheduler state (see docs/scheduling.md, "Running schedulers").
--
-- `cron_state` holds the position of each schedule: the newest tick that was fired or
-- deliberately skipped. It is keyed by definition NAME, not id, so a new version of a definition
-- continues where the previous one stopped and never fires a tick its predecessor fired. Every
-- scheduler replica advances a position with a compare-and-set on this row (in the same
-- transaction as the jobs it fires), so exactly one replica handles each stretch of ticks; the
-- unique index jobs_cron_tick stays as the last guard. The position survives prune (the jobs of
-- the ticks may be moved to jobs_history, the tick must not fire again).

CREATE TABLE cron_state (
    namespace_id      uuid NOT NULL,
    name              text NOT NULL,
    last_tick         timestamptz NOT NULL,  -- newest tick fired or skipped
    previous_tick     timestamptz,           -- the position before the last move: that move
                                             -- handled the ticks in (previous_tick, last_tick]
    last_fired        timestamptz,           -- newest tick that got a job ...
    last_fired_def_id uuid,                  -- ... by this definition version (overlap: skip)
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace_id, name),
    CHECK ((last_fired IS NULL) = (last_fired_def_id IS NULL))
);

-- Pausing skips ticks rather than delaying them: on resume the schedule continues from the
-- moment of the resume, so `catchup` does not fire a tick that fell inside the pause. Both
-- transitions leave a trace in scheduler_events for operators.
CREATE FUNCTION chronosched_cron_paused_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.paused THEN
        INSERT INTO scheduler_events (def_id, event, detail)
        VALUES (NEW.id, 'paused', 'schedule paused: its ticks are skipped until it is resumed');
    ELSE
        INSERT INTO cron_state (namespace_id, name, last_tick)
        VALUES (NEW.namespace_id, NEW.name, now())
        ON CONFLICT (namespace_id, name) DO UPDATE
           SET previous_tick = cron_state.last_tick,
               last_tick = greatest(cron_state.last_tick, excluded.last_tick),
               updated_at = now();
        INSERT INTO scheduler_events (def_id, scheduled_for, event, detail)
        VALUES (NEW.id, now(), 'resumed', 'schedule resumed: ticks during the pause were skipped');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chronosched_cron_paused
    AFTER UPDATE OF paused ON job_definitions
    FOR EACH ROW
    WHEN (OLD.paused IS DISTINCT FROM NEW.paused AND NEW.cron_spec IS NOT NULL AND NOT NEW.deleted)
    EXECUTE FUNCTION chronosched_cron_paused_v1();
