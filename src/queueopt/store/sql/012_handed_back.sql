-- queueopt schema, version 12: each lease its holder handed back (a release or a skip), signed with their id, and the
-- task as that answer showed it, so that a review tool retrying a release or skip whose answer it lost (a timeout)
-- is answered as the first time, not refused. One row per lease, so a later holder's hand-back leaves it be. A lease
-- handed back before this version has no row: a retry of that release or skip is refused like any stale lease.
CREATE TABLE handed_back (
    task_id TEXT NOT NULL,
    lease_token TEXT NOT NULL,
    holder TEXT NOT NULL,
    outcome TEXT NOT NULL,
    shown TEXT NOT NULL,
    PRIMARY KEY (task_id, lease_token)
)
