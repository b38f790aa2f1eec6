-- deliveries_by_created served retention alone, and each delivery of a publish wrote an entry in it. A delivery is
-- created with its event and keeps the event's created_at, so retention finds expired deliveries through their events
-- (events_by_created, one entry per event, then deliveries_by_event), as lifecycle.ts does.
DROP INDEX IF EXISTS deliveries_by_created;
