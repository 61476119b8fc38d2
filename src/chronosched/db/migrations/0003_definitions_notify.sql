-- Tell schedulers about definition changes in the same transaction as the change itself
-- (LISTEN chronosched_definitions): the payload is the definition id, or 'reload' when one
-- statement touched many definitions (a bulk upsert), so the notify queue stays small.
-- Transition tables allow one event per trigger, hence two triggers sharing one function.

CREATE FUNCTION chronosched_definitions_notify_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched integer;
BEGIN
    SELECT count(*) INTO touched FROM changed;
    IF touched > 100 THEN
        PERFORM pg_notify('chronosched_definitions', 'reload');
    ELSE
        PERFORM pg_notify('chronosched_definitions', id::text)
           FROM (SELECT DISTINCT id FROM changed) AS s;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chronosched_definitions_inserted_notify
    AFTER INSERT ON job_definitions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION chronosched_definitions_notify_v1();

CREATE TRIGGER chronosched_definitions_updated_notify
    AFTER UPDATE ON job_definitions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION chronosched_definitions_notify_v1();
