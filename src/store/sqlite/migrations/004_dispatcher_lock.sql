-- One process dispatches from a SQLite file at a time (its delivery leases live in that process's memory).
-- The holder renews heartbeat_at while it claims; a holder that stopped renewing, or whose pid is gone on this
-- host, is replaced by the next process that wants to dispatch.
CREATE TABLE dispatcher_lock (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  owner         TEXT    NOT NULL,
  host          TEXT    NOT NULL,
  pid           INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL
);
