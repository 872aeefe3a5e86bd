-- queueopt schema, version 10: a decided task's decision, as JSON signed with its maker's id (as its items keep it),
-- so that a review tool retrying a decision whose answer it lost (a timeout) is answered as the first time. NULL for a
-- task decided before this version: a retry of such a decision is refused like any stale lease.
ALTER TABLE tasks ADD COLUMN decision TEXT
