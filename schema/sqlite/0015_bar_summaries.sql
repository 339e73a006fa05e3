-- Issue 14 point 3: a per-service summary of the bar's closed days, read at start instead of
-- every daily row (see schema/postgres/0015_bar_summaries.sql). packed: the days from
-- first_day to last_day as SqlStore.daily_counts packs them, here as hexadecimal text.
--
-- Every row of daily_rollups inserted, updated or deleted on a day a summary covers deletes
-- that summary, whoever writes it: an index probe per row written.
CREATE TABLE bar_summaries (
    service_id  TEXT PRIMARY KEY,
    first_day   TEXT NOT NULL,
    last_day    TEXT NOT NULL,
    packed      TEXT NOT NULL
);
CREATE INDEX bar_summaries_last_day ON bar_summaries (last_day);

CREATE TRIGGER daily_rollups_inserted AFTER INSERT ON daily_rollups
    WHEN NEW.day <= (SELECT max(last_day) FROM bar_summaries) BEGIN
    DELETE FROM bar_summaries
        WHERE service_id = NEW.service_id AND NEW.day BETWEEN first_day AND last_day;
END;
CREATE TRIGGER daily_rollups_updated
    AFTER UPDATE OF service_id, day, checks, up, degraded, down, maintenance ON daily_rollups
    WHEN NEW.day <= (SELECT max(last_day) FROM bar_summaries) BEGIN
    DELETE FROM bar_summaries
        WHERE service_id = NEW.service_id AND NEW.day BETWEEN first_day AND last_day;
END;
CREATE TRIGGER daily_rollups_moved AFTER UPDATE OF service_id, day ON daily_rollups
    WHEN OLD.service_id IS NOT NEW.service_id OR OLD.day IS NOT NEW.day BEGIN
    DELETE FROM bar_summaries
        WHERE service_id = OLD.service_id AND OLD.day BETWEEN first_day AND last_day;
END;
CREATE TRIGGER daily_rollups_deleted AFTER DELETE ON daily_rollups BEGIN
    DELETE FROM bar_summaries
        WHERE service_id = OLD.service_id AND OLD.day BETWEEN first_day AND last_day;
END;
