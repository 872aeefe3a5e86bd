-- queueopt schema, version 2: the clearance tiers a task needs beyond its queue's and its policy area's, comma
-- separated and empty for nearly every task, so an item flagged for two cleared areas needs both clearances.
ALTER TABLE tasks ADD COLUMN clearance TEXT NOT NULL DEFAULT '';
