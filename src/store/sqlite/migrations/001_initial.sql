-- hookd's logical schema. Times are epoch milliseconds (INTEGER); JSON documents are TEXT.

CREATE TABLE subscribers (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  organization_id  TEXT    NOT NULL,
  extension_id     TEXT    NOT NULL,
  company_id       INTEGER NOT NULL,
  name             TEXT    NOT NULL,
  webhook_url      TEXT    NOT NULL,
  association      TEXT    NOT NULL,
  custom_headers   TEXT    NOT NULL,
  auth_type        TEXT    NOT NULL,
  secret           TEXT    NOT NULL,
  email_id         TEXT,
  status           TEXT    NOT NULL,
  retry_policy     TEXT    NOT NULL,
  timeout_ms       INTEGER NOT NULL,
  max_in_flight    INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  deleted_at       INTEGER,
  last_success_at  INTEGER,
  last_failure_at  INTEGER
);
CREATE INDEX subscribers_by_tenant ON subscribers (organization_id, extension_id, company_id) WHERE deleted_at IS NULL;

-- One row per event slug pattern a subscriber listens to; filters and reducers are saved per row.
CREATE TABLE subscriber_events (
  subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
  slug          TEXT    NOT NULL,
  position      INTEGER NOT NULL,
  filters       TEXT,
  reducer       TEXT,
  PRIMARY KEY (subscriber_id, slug)
) WITHOUT ROWID;

CREATE TABLE events (
  seq              INTEGER PRIMARY KEY,
  id               TEXT    NOT NULL UNIQUE,
  organization_id  TEXT    NOT NULL,
  extension_id     TEXT    NOT NULL,
  company_id       INTEGER NOT NULL,
  application_id   TEXT,
  slug             TEXT    NOT NULL,
  body             TEXT    NOT NULL,
  created_at       INTEGER NOT NULL
);
CREATE INDEX events_by_created ON events (created_at);

-- A delivery is one (event, subscriber) pair. While status is PENDING or FAILED, next_attempt_at is
-- when it is due; a claim pushes it to the lease's expiry, so work of a crashed node falls due again.
CREATE TABLE deliveries (
  id                 INTEGER PRIMARY KEY,
  event_seq          INTEGER NOT NULL REFERENCES events (seq),
  event_id           TEXT    NOT NULL,
  subscriber_id      INTEGER NOT NULL,
  organization_id    TEXT    NOT NULL,
  extension_id       TEXT    NOT NULL,
  company_id         INTEGER NOT NULL,
  event_slug         TEXT    NOT NULL,
  status             TEXT    NOT NULL,
  next_attempt_at    INTEGER,
  lease_owner        TEXT,
  attempt_count      INTEGER NOT NULL DEFAULT 0,
  run_attempts       INTEGER NOT NULL DEFAULT 0,
  run_started_at     INTEGER,
  last_attempt_at    INTEGER,
  last_response_code INTEGER,
  last_response_time REAL,
  last_error         TEXT,
  body               TEXT,
  created_at         INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (subscriber_id, next_attempt_at) WHERE status IN ('PENDING', 'FAILED');
CREATE INDEX deliveries_by_tenant ON deliveries (organization_id, extension_id, created_at);
CREATE INDEX deliveries_by_event ON deliveries (event_seq);
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id, status);

CREATE TABLE attempts (
  id               INTEGER PRIMARY KEY,
  delivery_id      INTEGER NOT NULL,
  subscriber_id    INTEGER NOT NULL,
  organization_id  TEXT    NOT NULL,
  extension_id     TEXT    NOT NULL,
  company_id       INTEGER NOT NULL,
  event_slug       TEXT    NOT NULL,
  attempt          INTEGER NOT NULL,
  attempted_at     INTEGER NOT NULL,
  response_code    INTEGER NOT NULL,
  duration_ms      REAL    NOT NULL,
  response_body    TEXT,
  error            TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt);
CREATE INDEX attempts_by_tenant_time ON attempts (organization_id, extension_id, attempted_at);

CREATE TABLE idempotency_keys (
  organization_id  TEXT    NOT NULL,
  extension_id     TEXT    NOT NULL,
  company_id       INTEGER NOT NULL,
  key              TEXT    NOT NULL,
  event_id         TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (organization_id, extension_id, company_id, key)
) WITHOUT ROWID;

CREATE TABLE api_keys (
  id               TEXT    PRIMARY KEY,
  organization_id  TEXT    NOT NULL,
  name             TEXT,
  hash             TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  revoked_at       INTEGER,
  last_used_at     INTEGER
);
