-- Issue 14 point 3: a start read 50,000 services × 89 days of daily_rollups (4.45 million
-- rows) to build the bar's past days; the server's aggregation of them was the wall (10-13 s
-- of its CPU). A summary keeps, per service, the bar's counts of its closed days from
-- first_day to last_day, packed as SqlStore.daily_counts packs them (four big-endian int4 a
-- day: day - 2000-01-01, up + degraded, checks - maintenance, flags), one entry for every
-- day of the range (a day without a row: zeros). A start reads it and the few days after it
-- (SqlStore.bar_counts), and writes it under a SHARE lock of daily_rollups.
--
-- It must never disagree with daily_rollups: every statement that inserts, updates or
-- deletes a daily row of a day a summary covers deletes that summary (the next start makes
-- it again), whoever runs the statement (this daemon, another node, a command, an older
-- slamond after a downgrade). Statement triggers with transition tables: the writer's
-- statements, which touch today's rows only, pay one query (an index probe and a scan of
-- their own rows).
CREATE TABLE bar_summaries (
    service_id  text PRIMARY KEY,
    first_day   date NOT NULL,
    last_day    date NOT NULL,
    packed      bytea NOT NULL
);
CREATE INDEX bar_summaries_last_day ON bar_summaries (last_day);

-- The rows a statement inserted, updated (as they are after it) or deleted: a summary of one
-- of their days goes. One query when none is of a summarized day (the writer's: ~0.05 ms).
CREATE FUNCTION bar_summaries_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM changed_rows WHERE day <= (SELECT max(last_day) FROM bar_summaries)
    ) THEN
        RETURN NULL;
    END IF;
    DELETE FROM bar_summaries s USING changed_rows c
        WHERE s.service_id = c.service_id AND c.day BETWEEN s.first_day AND s.last_day;
    RETURN NULL;
END $$;

-- A row moved to another service or day: the summary of where it was goes too.
CREATE FUNCTION bar_summaries_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM bar_summaries
        WHERE service_id = OLD.service_id AND OLD.day BETWEEN first_day AND last_day;
    RETURN NULL;
END $$;

CREATE FUNCTION bar_summaries_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM bar_summaries;
    RETURN NULL;
END $$;

CREATE TRIGGER daily_rollups_inserted AFTER INSERT ON daily_rollups
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bar_summaries_stale();
CREATE TRIGGER daily_rollups_updated AFTER UPDATE ON daily_rollups
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bar_summaries_stale();
-- Not fired by the writer's upserts, which set neither column.
CREATE TRIGGER daily_rollups_moved AFTER UPDATE OF service_id, day ON daily_rollups
    FOR EACH ROW WHEN (OLD.service_id IS DISTINCT FROM NEW.service_id OR OLD.day IS DISTINCT FROM NEW.day)
    EXECUTE FUNCTION bar_summaries_moved();
CREATE TRIGGER daily_rollups_deleted AFTER DELETE ON daily_rollups
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bar_summaries_stale();
CREATE TRIGGER daily_rollups_truncated AFTER TRUNCATE ON daily_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION bar_summaries_clear();
