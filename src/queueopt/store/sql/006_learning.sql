-- queueopt schema, version 6: what the capability model learned from QA outcomes and handling times (one JSON row,
-- written by the serving engine every minute and when it stops), so that a restart or a standby's take-over does
-- not put every moderator back at the prior, and a moderator QA found inaccurate does not get prime work again.
CREATE TABLE learning (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at {real} NOT NULL,
    state TEXT NOT NULL
);
