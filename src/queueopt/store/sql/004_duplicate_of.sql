-- queueopt schema, version 4: for a copy of content, the earlier copy whose handling it rides on. `task_id` names
-- the task that decides the copy, and a copy of an automatically actioned item has none. Before this version such
-- a copy named its owner item there instead, as if it were a task. (No semicolons in comments: the migration runner
-- splits each file into statements at them.)
ALTER TABLE items ADD COLUMN duplicate_of TEXT;
UPDATE items SET duplicate_of = task_id WHERE action = 'duplicate';
UPDATE items SET task_id = NULL
    WHERE action = 'duplicate' AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = items.task_id);
