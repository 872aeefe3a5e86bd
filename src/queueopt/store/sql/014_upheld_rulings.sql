-- queueopt schema, version 14: each content's ruling found again, upholds included. Version 13 filled the rulings
-- skipping every appeal's `uphold` (a violation under no policy of its own), and engines before this version wrote
-- one only when copies would otherwise carry no violation, so on an upgraded store an uphold that reversed an
-- approval in between was no ruling, and copies carried the approval. An engine now makes each decided appeal or
-- escalation its content's ruling, carrying an uphold as the violation it reaffirms: the ruling is again the one
-- whose own decision was made last, as the engine would have kept it.
DELETE FROM content_rulings;
INSERT INTO content_rulings (hash, item_id)
    SELECT hash, item_id FROM (
        SELECT content_hash AS hash, id AS item_id, ROW_NUMBER() OVER (
            PARTITION BY content_hash ORDER BY decided_at DESC, submitted_at DESC, id DESC
        ) AS latest
        FROM items
        WHERE content_hash IS NOT NULL AND task_id = id AND status = 'decided'
            AND COALESCE({payload_source}, '') IN ('appeal', 'escalation')
    ) ruled
    WHERE latest = 1
