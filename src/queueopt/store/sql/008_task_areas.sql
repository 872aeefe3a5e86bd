-- queueopt schema, version 8: the policy-area certifications a task asks beyond its own area and its queue's, comma
-- separated and empty for nearly every task: an appeal of content whose earlier reviews were in several areas asks
-- for every one of them.
ALTER TABLE tasks ADD COLUMN areas TEXT NOT NULL DEFAULT '';
