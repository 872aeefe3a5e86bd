-- queueopt schema, version 1. The tables mirror queueopt.store.records. One file serves both engines: the
-- placeholders {real}, {bool}, {bigint} and {identity} are filled in by the dialect (queueopt.store.sql.Dialect).
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT,
    queue TEXT,
    priority {real} NOT NULL,
    action TEXT NOT NULL,
    explanation TEXT NOT NULL,
    content_hash TEXT,
    submitted_at {real} NOT NULL,
    verdict TEXT,
    decision TEXT,
    decided_at {real}
);
-- Only the items a task does not share its id with (duplicates, and any item a task was made for under another
-- id): a review task's own item is found by its primary key, so submit writes one index entry less per item.
CREATE INDEX items_by_task ON items (task_id) WHERE task_id <> id;

CREATE TABLE content (
    hash TEXT PRIMARY KEY,
    item_id TEXT NOT NULL
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    priority {real} NOT NULL,
    aging_rate {real} NOT NULL,
    enqueued_at {real} NOT NULL,
    modality TEXT NOT NULL,
    language TEXT NOT NULL,
    region TEXT NOT NULL,
    duration_s {real} NOT NULL,
    severe {bool} NOT NULL,
    policy TEXT,
    attempt {bigint} NOT NULL,
    holder TEXT,
    leased_at {real},
    lease_expires_at {real},
    skipped_by TEXT NOT NULL,
    CHECK ((state = 'leased') = (holder IS NOT NULL))
);
CREATE INDEX open_tasks ON tasks (state) WHERE state IN ('queued', 'leased');

CREATE TABLE moderators (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL
);

-- Append-only: no row is ever deleted, so even SQLite's plain rowid (max + 1, no AUTOINCREMENT bookkeeping per
-- insert) only grows.
CREATE TABLE audit (
    seq {identity},
    at {real} NOT NULL,
    task_id TEXT,
    item_id TEXT,
    actor TEXT NOT NULL,
    transition TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
