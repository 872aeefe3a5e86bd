-- queueopt schema, version 9: the serving engine's heartbeat, in seconds since the epoch by the database's own clock
-- (NULL until it first beats). A hung engine keeps its session, and with it the engine lock, for as long as its
-- process lives: a standby that sees no beat for long enough ends that session and takes over (see `hung_holder`).
ALTER TABLE serving_engine ADD COLUMN beat_at {real}
