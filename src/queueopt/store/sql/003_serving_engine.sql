-- queueopt schema, version 3: where the engine serving this store answers HTTP, so standby replicas can pass their
-- requests to it. One row at most, written by the engine that holds the store's engine lock when it starts.
CREATE TABLE serving_engine (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    address TEXT NOT NULL,
    since {real} NOT NULL
)
