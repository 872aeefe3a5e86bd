-- queueopt schema, version 11: what a purge of settled work (`Store.purge`, see queueopt.store.retention) looks up.
-- A content's copies by the item they ride on (only copies: most items are none, so submit writes no entry for
-- them), and an item's audit entries, which go with it.
CREATE INDEX items_by_duplicate_of ON items (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX audit_by_item ON audit (item_id) WHERE item_id IS NOT NULL
