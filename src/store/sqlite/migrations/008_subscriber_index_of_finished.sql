-- A single-event publish wrote an entry for each of its ten subscribers in two per-subscriber indexes, deliveries_due
-- and deliveries_by_subscriber_created, each on that subscriber's own leaf page: ~25 of the ~39 WAL frames its commit
-- wrote, and half or more of its CPU at the store. The listing index now holds only deliveries that are no longer
-- queued, and queued ones are found through deliveries_due: the two together hold every delivery of a subscriber
-- (subscriber-rows.ts). A delivery's entry here is written with its result, in the batched write of results, instead of
-- in the publish's own small commit.
DROP INDEX IF EXISTS deliveries_by_subscriber_created;
CREATE INDEX deliveries_by_subscriber_finished ON deliveries (subscriber_id, created_at) WHERE status NOT IN ('PENDING', 'FAILED');
