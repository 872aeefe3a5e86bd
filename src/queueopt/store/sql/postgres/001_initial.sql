-- queueopt schema, version 1 (PostgreSQL). The tables mirror queueopt.store.records.
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT,
    queue TEXT,
    priority DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    explanation TEXT NOT NULL,
    content_hash TEXT,
    submitted_at DOUBLE PRECISION NOT NULL,
    verdict TEXT,
    decision TEXT,
    decided_at DOUBLE PRECISION
);
CREATE INDEX items_by_task ON items (task_id);

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
    priority DOUBLE PRECISION NOT NULL,
    aging_rate DOUBLE PRECISION NOT NULL,
    enqueued_at DOUBLE PRECISION NOT NULL,
    modality TEXT NOT NULL,
    language TEXT NOT NULL,
    region TEXT NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    severe BOOLEAN NOT NULL,
    policy TEXT,
    attempt BIGINT NOT NULL,
    holder TEXT,
    leased_at DOUBLE PRECISION,
    lease_expires_at DOUBLE PRECISION,
    skipped_by TEXT NOT NULL,
    CHECK ((state = 'leased') = (holder IS NOT NULL))
);
CREATE INDEX open_tasks ON tasks (state) WHERE state IN ('queued', 'leased');

CREATE TABLE moderators (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL
);

CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    task_id TEXT,
    item_id TEXT,
    actor TEXT NOT NULL,
    transition TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
