-- queueopt schema, version 15: open tasks indexed by id, so a recovering engine reads them in pages (keyset on id)
-- and beats between pages, where one read of several million open tasks could outlast a standby's heartbeat bound.
-- It replaces the index by state, which only that read used: a task's state change still updates one index.
DROP INDEX open_tasks;
CREATE INDEX open_tasks ON tasks (id) WHERE state IN ('queued', 'leased')
