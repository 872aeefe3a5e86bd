-- queueopt schema, version 7: every item handled on its own with a content hash (`owner`), and every appeal or
-- escalation of that content (not `owner`), in order, where version 1 kept the latest owner alone. A withdrawn owner
-- then leaves the one before it for later copies to ride on, and an appeal asks what every earlier review of the
-- content asked and is kept from everyone who decided it. The history is rebuilt from the items stored: every item
-- with a hash that is no copy riding on another, in the order submitted (an appeal or escalation by its source).
CREATE TABLE content_history (
    seq {identity},
    hash TEXT NOT NULL,
    item_id TEXT NOT NULL,
    owner {bool} NOT NULL
);
CREATE INDEX content_history_by_hash ON content_history (hash, seq);
INSERT INTO content_history (hash, item_id, owner)
    SELECT content_hash, id, COALESCE({payload_source}, '') NOT IN ('appeal', 'escalation')
    FROM items WHERE content_hash IS NOT NULL AND action <> 'duplicate'
    ORDER BY submitted_at, id;
DROP TABLE content;
