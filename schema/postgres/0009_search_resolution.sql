-- Issue 12: incident search covers the impact, the root cause and the resolution notes too.
-- The store rewrites search_text on every change (the dialect's reindex_incident: title,
-- description, impact, root cause, resolution notes, then every update's message); this
-- rebuilds the texts written before it did.

UPDATE incidents i SET search_text =
    i.title || E'\n' || i.description || E'\n' || i.impact || E'\n' || i.root_cause
    || E'\n' || i.resolution_notes || E'\n'
    || coalesce((SELECT string_agg(message, E'\n' ORDER BY id) FROM incident_updates
                 WHERE incident_id = i.id), '');
