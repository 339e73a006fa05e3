-- Issue 12: incident search covers the impact, the root cause and the resolution notes too.
-- The store rewrites an incident's row of incident_search on every change (the dialect's
-- reindex_incident, body = description, impact, root cause, resolution notes, then every
-- update's message); this rebuilds the rows written before it did.

DELETE FROM incident_search;
INSERT INTO incident_search (rowid, title, body)
SELECT i.id, i.title,
       i.description || char(10) || i.impact || char(10) || i.root_cause || char(10)
       || i.resolution_notes
       || coalesce((SELECT char(10) || group_concat(m.message, char(10))
                    FROM (SELECT message FROM incident_updates u
                          WHERE u.incident_id = i.id ORDER BY u.id) m), '')
FROM incidents i;
