-- The unread alerts of a recipient, newest first: the alerts page with `unread=true` and the unread badge
-- count read only this index (an index-only count on PostgreSQL), instead of every alert the recipient ever
-- had. Read alerts, the vast majority over time, are not in it. Its columns follow the queries' filter and
-- order (alerts::store::list and unread_count), so the first page needs no sort.
CREATE INDEX alerts_unread_idx ON alerts (company_id, recipient_user_id, created_at, id) WHERE read_at IS NULL;
