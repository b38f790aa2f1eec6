// The dispatcher's side of SQLite: lease due deliveries in batches, record attempt results in batches.
import type Database from 'better-sqlite3';
import type { AttemptResult, ClaimRequest, ClaimResult, ClaimedDelivery, DueSubscriber, RecordSummary } from '../port.ts';

interface ClaimedRow {
  id: number;
  event_seq: number;
  event_id: string;
  subscriber_id: number;
  attempt_count: number;
  run_attempts: number;
  run_started_at: number | null;
  body: string | null;
}

export function sqliteDispatch(db: Database.Database, changed: () => void) {
  // One writer, no SKIP LOCKED needed: pick and lease in one statement over the partial "due" index.
  const claimOne = db.prepare(`
    UPDATE deliveries SET next_attempt_at = @leaseUntil, lease_owner = @owner
    WHERE id IN (
      SELECT id FROM deliveries
      WHERE subscriber_id = @subscriberId AND status IN ('PENDING', 'FAILED') AND next_attempt_at <= @now
      ORDER BY next_attempt_at LIMIT @limit)
    RETURNING id, event_seq, event_id, subscriber_id, attempt_count, run_attempts, run_started_at, body`);
  const nextDue = db.prepare(
    "SELECT min(next_attempt_at) AS at FROM deliveries WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED')",
  );
  const eventBody = db.prepare('SELECT body FROM events WHERE seq = ?').pluck();

  const insertAttempt = db.prepare(`
    INSERT INTO attempts (delivery_id, subscriber_id, organization_id, extension_id, company_id, event_slug, attempt,
      attempted_at, response_code, duration_ms, response_body, error)
    SELECT id, subscriber_id, organization_id, extension_id, company_id, event_slug, @attempt,
      @attemptedAt, @responseCode, @durationMs, @responseBody, @error
    FROM deliveries WHERE id = @deliveryId AND lease_owner = @owner`);
  const finish = db.prepare(`
    UPDATE deliveries SET status = @status, next_attempt_at = @nextAttemptAt, lease_owner = NULL,
      attempt_count = @attempt, run_attempts = run_attempts + 1, run_started_at = @runStartedAt,
      last_attempt_at = @attemptedAt, last_response_code = @responseCode, last_response_time = @durationMs, last_error = @error
    WHERE id = @deliveryId AND lease_owner = @owner`);
  const park = db.prepare(`
    UPDATE deliveries SET status = 'RESYNC', next_attempt_at = NULL, lease_owner = NULL
    WHERE id = @deliveryId AND lease_owner = @owner`);
  const markSuccess = db.prepare('UPDATE subscribers SET last_success_at = max(coalesce(last_success_at, 0), ?) WHERE id = ?');
  const markFailure = db.prepare('UPDATE subscribers SET last_failure_at = max(coalesce(last_failure_at, 0), ?) WHERE id = ?');
  // Blocking (DESIGN.md § Delivery semantics): a delivery gave up and its subscriber has had no success since
  // that delivery's run began — the endpoint is down, not just this event. Its queue is parked as RESYNC.
  const lastSuccess = db.prepare('SELECT last_success_at FROM subscribers WHERE id = ?').pluck();
  const block = db.prepare("UPDATE subscribers SET status = 'blocked', updated_at = ? WHERE id = ? AND status = 'active' AND deleted_at IS NULL");
  const parkQueued = db.prepare(
    "UPDATE deliveries SET status = 'RESYNC', next_attempt_at = NULL WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED') AND lease_owner IS NULL",
  );
  const release = db.prepare(
    "UPDATE deliveries SET next_attempt_at = ?, lease_owner = NULL WHERE lease_owner = ? AND status IN ('PENDING', 'FAILED')",
  );
  // Skip-scan over the due index: O(subscribers · log n), not O(queued deliveries).
  const due = db.prepare(`
    WITH RECURSIVE s(id) AS (
      SELECT min(subscriber_id) FROM deliveries WHERE status IN ('PENDING', 'FAILED')
      UNION ALL
      SELECT (SELECT min(subscriber_id) FROM deliveries WHERE status IN ('PENDING', 'FAILED') AND subscriber_id > s.id)
      FROM s WHERE s.id IS NOT NULL)
    SELECT id AS subscriberId,
      (SELECT min(next_attempt_at) FROM deliveries WHERE subscriber_id = s.id AND status IN ('PENDING', 'FAILED')) AS nextAttemptAt
    FROM s WHERE id IS NOT NULL`);

  const queued = db.prepare("SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'FAILED')").pluck();

  const claim = db.transaction((requests: ClaimRequest[], owner: string, now: number): ClaimResult => {
    const deliveries: ClaimedDelivery[] = [];
    const bodies = new Map<number, string>();
    const next = new Map<number, number | null>();
    for (const r of requests) {
      const rows = claimOne.all({ subscriberId: r.subscriberId, limit: r.limit, now, leaseUntil: now + r.leaseMs, owner }) as ClaimedRow[];
      for (const row of rows) {
        let body = row.body;
        if (body === null) {
          body = bodies.get(row.event_seq) ?? (eventBody.get(row.event_seq) as string);
          bodies.set(row.event_seq, body);
        }
        deliveries.push({
          id: row.id,
          eventId: row.event_id,
          subscriberId: row.subscriber_id,
          attemptCount: row.attempt_count,
          runAttempts: row.run_attempts,
          runStartedAt: row.run_started_at,
          body,
        });
      }
      next.set(r.subscriberId, (nextDue.get(r.subscriberId) as { at: number | null }).at);
    }
    return { deliveries, nextDue: next };
  });

  const record = db.transaction((results: AttemptResult[], owner: string): RecordSummary => {
    const blocked: number[] = [];
    for (const r of results) {
      const params = {
        deliveryId: r.deliveryId,
        owner,
        attempt: r.attempt,
        attemptedAt: r.attemptedAt,
        responseCode: r.responseCode,
        durationMs: r.durationMs,
        responseBody: r.responseBody,
        error: r.error,
      };
      if (r.outcome.kind === 'park') {
        park.run({ deliveryId: r.deliveryId, owner });
        continue;
      }
      if (insertAttempt.run(params).changes === 0) continue; // lease lost: another node owns it now
      const status = r.outcome.kind === 'success' ? 'SUCCESS' : r.outcome.kind === 'retry' ? 'FAILED' : 'DISABLED';
      const nextAttemptAt = r.outcome.kind === 'retry' ? r.outcome.nextAttemptAt : null;
      finish.run({ ...params, status, nextAttemptAt, runStartedAt: r.runStartedAt });
      (r.outcome.kind === 'success' ? markSuccess : markFailure).run(r.attemptedAt, r.subscriberId);
      if (r.outcome.kind === 'give-up') {
        const since = lastSuccess.get(r.subscriberId) as number | null | undefined;
        const down = r.outcome.gone === true || since == null || since < r.runStartedAt;
        if (down && block.run(r.attemptedAt, r.subscriberId).changes > 0) blocked.push(r.subscriberId);
      }
    }
    // Parked once the whole batch is recorded, so a retry recorded after the give-up in this batch is parked too
    // instead of staying queued (FAILED) for a blocked subscriber.
    for (const id of blocked) parkQueued.run(id);
    return { blocked };
  });

  // Leases and attempt results need no fsync of their own: losing them to a power cut only means a delivery is
  // sent again (at-least-once), and the next durable commit (a publish) syncs the WAL frames before it anyway.
  // A process crash loses nothing either way: committed WAL frames are in the OS's page cache.
  const relaxed = <T>(run: () => T): T => {
    db.pragma('synchronous = NORMAL');
    try {
      return run();
    } finally {
      db.pragma('synchronous = FULL');
    }
  };

  return {
    claim: (requests: ClaimRequest[], owner: string, now: number) => relaxed(() => claim.immediate(requests, owner, now)),
    record: (results: AttemptResult[], owner: string): RecordSummary => {
      const summary = relaxed(() => record.immediate(results, owner));
      if (summary.blocked.length > 0) changed();
      return summary;
    },
    release: (owner: string, now: number) => release.run(now, owner).changes,
    due: () => due.all() as DueSubscriber[],
    queueDepth: () => queued.get() as number,
  };
}
