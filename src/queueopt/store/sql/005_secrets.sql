-- queueopt schema, version 5: secrets the deployment's replicas share, each made at random by the first engine
-- that asks for it. The QA sampling draw is keyed by one, so a moderator cannot tell from a task id whether their
-- decision will be sampled for QA.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
