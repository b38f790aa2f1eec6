-- A claim used to lease a delivery by moving next_attempt_at to the lease's end. next_attempt_at is in deliveries_due,
-- so every claim wrote a new row version with an entry in each of the table's seven indexes: a third of all index
-- insertions, and most of PostgreSQL's CPU on the bench went to index insertion and clean-up. The lease now lives in
-- lease_owner and lease_until, which no index holds, so a claim (and a hand-back) is a HOT update that touches no index.
-- fillfactor leaves room on each page for those updated versions (a HOT update must stay on its page).
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
ALTER TABLE deliveries SET (fillfactor = 80);
-- Leases taken before this migration (no lease_until) end at next_attempt_at, as they did: the claim reads
-- coalesce(lease_until, next_attempt_at), which also covers a node of the old version still running.
