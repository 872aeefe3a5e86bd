-- queueopt schema, version 13: per content hash, the appeal or escalation of it decided last, its ruling. A later
-- copy of the content carries that decision when it was made after the decision of the copy it is compared with
-- (an appeal that restored wrongly removed content, or an escalation that removed what a first review approved, no
-- longer leaves every re-upload with the decision it reversed). Filled from the items stored: each content's appeal
-- or escalation whose own decision was made last, but for one finding a violation under no policy of its own (an
-- appeal's `uphold`), which leaves copies with the enforcement in force.
CREATE TABLE content_rulings (
    hash TEXT PRIMARY KEY,
    item_id TEXT NOT NULL
);
INSERT INTO content_rulings (hash, item_id)
    SELECT hash, item_id FROM (
        SELECT content_hash AS hash, id AS item_id, ROW_NUMBER() OVER (
            PARTITION BY content_hash ORDER BY decided_at DESC, submitted_at DESC, id DESC
        ) AS latest
        FROM items
        WHERE content_hash IS NOT NULL AND task_id = id AND status = 'decided'
            AND COALESCE({payload_source}, '') IN ('appeal', 'escalation')
            AND (COALESCE(verdict, '') <> 'violating' OR {decision_policy} IS NOT NULL)
    ) ruled
    WHERE latest = 1
