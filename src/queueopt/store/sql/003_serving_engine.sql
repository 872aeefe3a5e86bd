-- queueopt schema, version 3: the engine serving this store. `epoch` counts take-overs: an engine claims the next
-- one as it starts, and every write it makes afterwards checks that it is still the latest, so an engine that lost
-- the store to another can no longer write. `address` is where it answers HTTP (NULL until its port is bound), so
-- standby replicas can pass their requests to it.
CREATE TABLE serving_engine (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    epoch {bigint} NOT NULL,
    address TEXT,
    since {real} NOT NULL
)
