// The dispatcher's side of SQLite: hand out due deliveries under in-memory leases, record attempt results in batches.
import type Database from 'better-sqlite3';
import type { AttemptResult, ClaimRequest, ClaimResult, ClaimedDelivery, DueSubscriber, RecordSummary } from '../port.ts';
import type { DispatcherLock } from './dispatcher-lock.ts';
import { EventBodies } from '../event-bodies.ts';
import { Renewal } from '../../renewal.ts';
import type { ActiveLeases, Leases } from './leases.ts';
import { PARK_QUEUED } from './subscribers.ts';
import { withoutFsync } from './wal-sync.ts';
import type { WriteGate } from './write-gate.ts';

/**
 * A queued delivery as a queue read returns it: its place in the queue, then what a claim needs of it (what the
 * attempt rows repeat, and its own body or where its event's is). An array, read with better-sqlite3's raw mode: an
 * object per row cost ~2 µs more per row to build (8 rows of these columns: 52 µs against 35).
 */
type QueuedRow = [
  id: number,
  at: number,
  companyId: number,
  eventSeq: number,
  eventId: string,
  attemptCount: number,
  runAttempts: number,
  runStartedAt: number | null,
  body: Uint8Array | null,
];

function latest(marks: Map<number, number>, subscriberId: number, at: number): void {
  if ((marks.get(subscriberId) ?? -Infinity) < at) marks.set(subscriberId, at);
}

// Bodies as BLOBs: better-sqlite3 hands those over as the stored bytes (its own Buffer), with no decoding into a string
// that would be encoded again to be signed and sent.
const QUEUED_COLUMNS = `id, next_attempt_at AS at, company_id, event_seq, event_id, attempt_count, run_attempts, run_started_at,
  CAST(body AS BLOB)`;

/**
 * How a claim reads a subscriber's queue, in queue order from the partial "due" index (it covers status, id and
 * next_attempt_at: migration 007): the head of the queue, the queue past a place in it, and how many queued rows lie
 * up to that place. The count reads the index alone. The other two read the table row of each queued row they return
 * too: one statement for a subscriber's whole claim, where a read of the index and then one of each row (as objects)
 * had taken twice as long (8 rows: 17 µs against 33; the row reads alone were ~5 µs per claimed delivery in the bench).
 *
 * `LIMIT ? + 0`, not `LIMIT ?`: SQLite (3.53, in better-sqlite3 12) plans with the value of a LIMIT that is a bare
 * parameter, so binding it expires the statement and every run prepared it again, ~10 µs of the ~12 a queue read took
 * (a claim request claims ~7 deliveries; 8.5 → 2.7 µs of queue reads per claimed delivery in the bench). An expression
 * is not read while planning.
 */
export const QUEUE_READS = {
  head: `SELECT ${QUEUED_COLUMNS} FROM deliveries
    WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED') AND id <= ? ORDER BY next_attempt_at, id LIMIT ? + 0`,
  after: `SELECT ${QUEUED_COLUMNS} FROM deliveries
    WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED') AND id <= ? AND (next_attempt_at, id) > (?, ?)
    ORDER BY next_attempt_at, id LIMIT ? + 0`,
  upTo: `SELECT count(*) FROM deliveries
    WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED') AND id <= ? AND (next_attempt_at, id) <= (?, ?)`,
};

/** `gate`: while a publish's transaction is open across turns, claims take only deliveries committed before it. */
export function sqliteDispatch(db: Database.Database, leases: Leases, lock: DispatcherLock, changed: () => void, gate: WriteGate) {
  const queueHead = db.prepare(QUEUE_READS.head).raw(true);
  const queueAfter = db.prepare(QUEUE_READS.after).raw(true);
  const queuedUpTo = db.prepare(QUEUE_READS.upTo).pluck();
  const eventBody = db.prepare('SELECT CAST(body AS BLOB) FROM events WHERE seq = ?').pluck();
  const bodies = new EventBodies();
  const renewal = new Renewal();

  // The lease carries the delivery's company (read at claim), so an attempt is a plain insert, made once the
  // delivery's own update found it still queued.
  const insertAttempt = db.prepare(`
    INSERT INTO attempts (delivery_id, subscriber_id, company_id, attempt, attempted_at, response_code, duration_ms,
      response_body, error)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  // Positional parameters: binding named ones made better-sqlite3 create a string per name per run.
  const finish = db.prepare(`
    UPDATE deliveries SET status = ?, next_attempt_at = ?, lease_owner = NULL,
      attempt_count = ?, run_attempts = run_attempts + 1, run_started_at = ?,
      last_attempt_at = ?, last_response_code = ?, last_response_time = ?, last_error = ?
    WHERE id = ? AND status IN ('PENDING', 'FAILED')`);
  const park = db.prepare(
    "UPDATE deliveries SET status = 'RESYNC', next_attempt_at = NULL, lease_owner = NULL WHERE id = ? AND status IN ('PENDING', 'FAILED')",
  );
  const markSuccess = db.prepare('UPDATE subscribers SET last_success_at = max(coalesce(last_success_at, 0), ?) WHERE id = ?');
  const markFailure = db.prepare('UPDATE subscribers SET last_failure_at = max(coalesce(last_failure_at, 0), ?) WHERE id = ?');
  // Blocking (DESIGN.md § Delivery semantics): a delivery gave up and its subscriber has had no success since
  // that delivery's run began — the endpoint is down, not just this event. Its queue is parked as RESYNC.
  const lastSuccess = db.prepare('SELECT last_success_at FROM subscribers WHERE id = ?').pluck();
  const block = db.prepare("UPDATE subscribers SET status = 'blocked', updated_at = ? WHERE id = ? AND status = 'active' AND deleted_at IS NULL");
  const parkQueued = db.prepare(PARK_QUEUED);
  const makeDue = db.prepare(
    "UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('PENDING', 'FAILED')",
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

  /**
   * The first rows of a subscriber's queue that are not leased, plus one that tells when the rest falls due. Claims run
   * ahead, so a subscriber's leases are usually the head of its queue: when every queued row up to the last leased one
   * is leased, the answer starts right after it. Otherwise (a lease ran out, a delivery was handed back behind it)
   * the head is read and leased rows are skipped in place.
   */
  function unleasedHead(active: ActiveLeases, subscriberId: number, limit: number): QueuedRow[] {
    const { last, ids } = active;
    const upTo = gate.claimableUpTo;
    if (last === null) return queueHead.all(subscriberId, upTo, limit + 1) as QueuedRow[];
    if (queuedUpTo.get(subscriberId, upTo, last.at, last.id) === ids.length) {
      return queueAfter.all(subscriberId, upTo, last.at, last.id, limit + 1) as QueuedRow[];
    }
    const leased = new Set(ids);
    return (queueHead.all(subscriberId, upTo, limit + ids.length + 1) as QueuedRow[]).filter((row) => !leased.has(row[0]));
  }

  // Reads only: the leases are all a claim changes, so it needs no write transaction and no commit.
  const claimRound = db.transaction((requests: ClaimRequest[], owner: string, now: number): ClaimResult => {
    const deliveries: ClaimedDelivery[] = [];
    const next = new Map<number, number | null>();
    for (const r of requests) {
      const active = leases.activeOf(r.subscriberId, now);
      let taken = 0;
      let waiting: number | null = null;
      for (const row of unleasedHead(active, r.subscriberId, r.limit)) {
        const [id, at, companyId, eventSeq, eventId, attemptCount, runAttempts, runStartedAt, own] = row;
        if (at > now || taken === r.limit) {
          waiting = at;
          break;
        }
        const body = own ?? bodies.get(eventSeq, eventId) ?? bodies.keep(eventSeq, eventId, eventBody.get(eventSeq) as Uint8Array);
        leases.take(id, r.subscriberId, at, owner, now + r.leaseMs, companyId);
        deliveries.push({ id, eventId, subscriberId: r.subscriberId, attemptCount, runAttempts, runStartedAt, body });
        taken++;
      }
      const leaseEnd = taken > 0 ? now + r.leaseMs : null;
      const candidates = [waiting, active.earliestEnd, leaseEnd].filter((t): t is number => t !== null);
      next.set(r.subscriberId, candidates.length > 0 ? Math.min(...candidates) : null);
    }
    return { deliveries, nextDue: next };
  });

  function claim(requests: ClaimRequest[], owner: string, now: number): ClaimResult {
    if (!lock.holds()) {
      // Another live process dispatches from this file: ask again in a while.
      return { deliveries: [], nextDue: new Map(requests.map((r) => [r.subscriberId, now + lock.retryMs])) };
    }
    if (renewal.due()) leases.renew(); // nothing is looping over the leases between two store calls
    return claimRound.deferred(requests, owner, now); // one read snapshot for the whole round
  }

  const record = db.transaction((results: AttemptResult[], owner: string): RecordSummary => {
    const blocked: number[] = [];
    // One UPDATE per subscriber per batch for last_success_at/last_failure_at, not one per result.
    const successes = new Map<number, number>();
    const failures = new Map<number, number>();
    const flushMarks = () => {
      for (const [id, at] of successes) markSuccess.run(at, id);
      for (const [id, at] of failures) markFailure.run(at, id);
      successes.clear();
      failures.clear();
    };
    for (const r of results) {
      const companyId = leases.heldCompany(r.deliveryId, owner);
      if (companyId === undefined) continue; // lease lost: taken by another owner, released or revoked
      leases.drop(r.deliveryId);
      if (r.outcome.kind === 'park') {
        park.run(r.deliveryId);
        continue;
      }
      const status = r.outcome.kind === 'success' ? 'SUCCESS' : r.outcome.kind === 'retry' ? 'FAILED' : 'DISABLED';
      const nextAttemptAt = r.outcome.kind === 'retry' ? r.outcome.nextAttemptAt : null;
      const { changes } = finish.run(
        status, nextAttemptAt, r.attempt, r.runStartedAt, r.attemptedAt, r.responseCode, r.durationMs, r.error, r.deliveryId,
      );
      // No longer queued: cancelled or retried by another process on this file (its leases are not ours to see).
      if (changes === 0) continue;
      insertAttempt.run(
        r.deliveryId, r.subscriberId, companyId, r.attempt, r.attemptedAt, r.responseCode, r.durationMs, r.responseBody, r.error,
      );
      latest(r.outcome.kind === 'success' ? successes : failures, r.subscriberId, r.attemptedAt);
      if (r.outcome.kind === 'give-up') {
        flushMarks();
        const since = lastSuccess.get(r.subscriberId) as number | null | undefined;
        const down = r.outcome.gone === true || since == null || since < r.runStartedAt;
        if (down && block.run(r.attemptedAt, r.subscriberId).changes > 0) blocked.push(r.subscriberId);
      }
    }
    flushMarks();
    // Parked once the whole batch is recorded, so a retry recorded after the give-up in this batch is parked too
    // instead of staying queued (FAILED) for a blocked subscriber. Deliveries in flight are left to their attempt.
    for (const id of blocked) parkQueued.run(id, JSON.stringify(leases.idsOf(id)));
    return { blocked };
  });

  return {
    claim,
    record: (results: AttemptResult[], owner: string): RecordSummary => {
      // Attempt results need no fsync of their own: losing them to a power cut only means a delivery is sent again
      // (at-least-once), and the next publish's sync of the WAL makes them durable too. A process crash loses nothing
      // either way: committed WAL frames are in the OS's page cache.
      const summary = withoutFsync(db, () => record.immediate(results, owner));
      if (summary.blocked.length > 0) changed();
      return summary;
    },
    release: (owner: string, now: number, ids?: number[]): number => {
      const released = ids === undefined ? leases.ownedBy(owner) : ids.filter((id) => leases.heldCompany(id, owner) !== undefined);
      leases.dropAll(released);
      return makeDue.run(now, JSON.stringify(released)).changes;
    },
    due: () => due.all() as DueSubscriber[],
    queueDepth: () => queued.get() as number,
  };
}
