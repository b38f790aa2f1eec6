// The dispatcher's side of PostgreSQL: lease due deliveries for many subscribers in one statement (SKIP LOCKED, so
// nodes never wait on each other's claims), record a batch of attempt results in one transaction of four statements.
// The queue state is delivery_queue's (migration 007); deliveries holds each delivery's record.
import type pg from 'pg';
import type { AttemptResult, ClaimRequest, ClaimResult, ClaimedDelivery, DueSubscriber, RecordSummary } from '../port.ts';
import { EventBodies, utf8 } from '../event-bodies.ts';
import { prepared, transaction } from './db.ts';
import { PARK_QUEUED } from './subscribers.ts';
import { toClaimedDelivery, type ClaimedRow } from './rows.ts';

// One round trip for the whole claim. For each requested subscriber, the LATERAL subquery descends delivery_queue_due
// once and locks its first max_rows + 1 unleased rows in next_attempt_at order, skipping rows another node is claiming
// this instant. Of those, the first max_rows that are due are claimed; the earliest of the rest tells when that
// subscriber's queue next falls due. A second descent per subscriber for that answer cost more than the claim itself
// when the planner turned it into a bitmap scan of the whole queue (77 of 110 ms on the bench).
//
// A lease is lease_owner and lease_until, columns no index holds, so claiming is a HOT update of the queue row. A lease
// is held while lease_owner is set and lease_until has not passed; a leased row keeps its next_attempt_at, so the head
// of a busy subscriber's queue is rows it has in flight, which the descent steps over. When the unleased rows ran out
// before max_rows + 1, the rest of the queue is leased rows (bounded by what the nodes hold in flight and ready): their
// earliest lease end is when something may fall due again (a crashed node's work, taken over then).
//
// The counters come from the queue row the UPDATE locked (its newest version), the body and event from deliveries,
// which never change them (migration 007). Each answer row is a claimed delivery (or, for a subscriber with nothing
// claimed, one row with id NULL) and carries that time: the earliest of the new lease end (if anything was claimed),
// the first unleased delivery not claimed and the end of the other leases.
const CLAIM = prepared('claim', `
  WITH requests AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS r(subscriber_id, max_rows, lease_until)
  ),
  seen AS (
    SELECT head.delivery_id, head.next_attempt_at, r.subscriber_id,
      row_number() OVER (PARTITION BY r.subscriber_id ORDER BY head.next_attempt_at, head.delivery_id) <= r.max_rows
        AND head.next_attempt_at <= $4 AS take
    FROM requests r
    CROSS JOIN LATERAL (
      SELECT q.delivery_id, q.next_attempt_at FROM delivery_queue q
      WHERE q.subscriber_id = r.subscriber_id AND q.next_attempt_at IS NOT NULL
        AND (q.lease_owner IS NULL OR q.lease_until <= $4)
      ORDER BY q.next_attempt_at
      LIMIT r.max_rows + 1
      FOR UPDATE SKIP LOCKED
    ) AS head
  ),
  claimed AS (
    UPDATE delivery_queue q SET lease_owner = $5, lease_until = r.lease_until
    FROM seen s JOIN requests r ON r.subscriber_id = s.subscriber_id
    WHERE q.delivery_id = s.delivery_id AND s.take
    RETURNING q.delivery_id AS id, q.subscriber_id, q.attempt_count, q.run_attempts, q.run_started_at
  ),
  queues AS MATERIALIZED (
    SELECT r.subscriber_id, r.lease_until, r.max_rows, count(s.delivery_id) AS seen, bool_or(s.take) AS took,
      min(s.next_attempt_at) FILTER (WHERE NOT s.take) AS next_unleased
    FROM requests r LEFT JOIN seen s ON s.subscriber_id = r.subscriber_id
    GROUP BY r.subscriber_id, r.lease_until, r.max_rows
  ),
  next_due AS MATERIALIZED (
    SELECT q.subscriber_id, least(CASE WHEN q.took THEN q.lease_until END, q.next_unleased, held.until) AS at
    FROM queues q
    LEFT JOIN LATERAL (
      SELECT min(h.lease_until) AS until FROM delivery_queue h
      WHERE q.seen <= q.max_rows AND h.subscriber_id = q.subscriber_id AND h.next_attempt_at IS NOT NULL
        AND h.lease_owner IS NOT NULL AND h.lease_until > $4
    ) AS held ON true
  )
  SELECT n.subscriber_id, n.at AS next_due, c.id, d.event_id, d.event_seq, c.attempt_count, c.run_attempts,
    c.run_started_at, d.body
  FROM next_due n
  LEFT JOIN claimed c ON c.subscriber_id = n.subscriber_id
  LEFT JOIN deliveries d ON d.id = c.id
  ORDER BY n.subscriber_id, c.id`);

// The bodies of the events a claim's deliveries need, for those the process does not keep (EventBodies): the claim
// itself returns only a reduced delivery's own body.
const EVENT_BODIES = prepared('event_bodies', 'SELECT seq, id, body FROM events WHERE seq = ANY($1::bigint[])');

/** One row per claimed delivery, or one with id null for a subscriber that got none (it still carries next_due). */
interface ClaimRow extends Omit<ClaimedRow, 'id'> {
  id: number | null;
  next_due: number | null;
  event_seq: number;
  /** A reduced delivery's own body; null when it sends its event's. */
  body: string | null;
}

// Every result of the batch in one statement, each only while `owner` still holds the lease (on the queue row):
// a finished delivery (SUCCESS, DISABLED) leaves the queue, a retry (FAILED) or a park (RESYNC) stays with a new
// next_attempt_at (NULL when parked) and no lease. The update of deliveries that follows touches no indexed column (a
// HOT update), and a finished attempt (not a park) writes one attempts row. Answers the finished attempts applied.
const RECORD = prepared('record', `
  WITH results AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::float8[], $8::int[],
      $9::text[], $10::text[], $11::bigint[])
      AS r(delivery_id, status, attempt, attempted_at, run_started_at, duration_ms, response_code, response_body, error,
        next_attempt_at)
  ),
  dequeued AS (
    DELETE FROM delivery_queue q USING results r
    WHERE r.status IN ('SUCCESS', 'DISABLED') AND q.delivery_id = r.delivery_id AND q.lease_owner = $1
    RETURNING q.delivery_id, q.run_attempts + 1 AS run_attempts
  ),
  requeued AS (
    UPDATE delivery_queue q SET next_attempt_at = r.next_attempt_at, lease_owner = NULL, lease_until = NULL,
      attempt_count = CASE WHEN r.status = 'RESYNC' THEN q.attempt_count ELSE r.attempt END,
      run_attempts = CASE WHEN r.status = 'RESYNC' THEN q.run_attempts ELSE q.run_attempts + 1 END,
      run_started_at = CASE WHEN r.status = 'RESYNC' THEN q.run_started_at ELSE r.run_started_at END
    FROM results r
    WHERE r.status IN ('FAILED', 'RESYNC') AND q.delivery_id = r.delivery_id AND q.lease_owner = $1
    RETURNING q.delivery_id, q.run_attempts
  ),
  applied AS (
    SELECT delivery_id, run_attempts FROM dequeued UNION ALL SELECT delivery_id, run_attempts FROM requeued
  ),
  parked AS (
    UPDATE deliveries d SET status = 'RESYNC', next_attempt_at = NULL
    FROM results r JOIN applied a ON a.delivery_id = r.delivery_id
    WHERE r.status = 'RESYNC' AND d.id = r.delivery_id
  ),
  finished AS (
    UPDATE deliveries d SET status = r.status, next_attempt_at = r.next_attempt_at, attempt_count = r.attempt,
      run_attempts = a.run_attempts, run_started_at = r.run_started_at, last_attempt_at = r.attempted_at,
      last_response_code = r.response_code, last_response_time = r.duration_ms, last_error = r.error
    FROM results r JOIN applied a ON a.delivery_id = r.delivery_id
    WHERE r.status <> 'RESYNC' AND d.id = r.delivery_id
    RETURNING d.id, d.subscriber_id, d.company_id
  ),
  logged AS (
    INSERT INTO attempts (delivery_id, subscriber_id, company_id, attempt, attempted_at, response_code, duration_ms,
      response_body, error)
    SELECT f.id, f.subscriber_id, f.company_id, r.attempt, r.attempted_at, r.response_code, r.duration_ms,
      r.response_body, r.error
    FROM finished f JOIN results r ON r.delivery_id = f.id
  )
  SELECT id FROM finished`);

// The subscribers of the applied results, locked in id order: two nodes recording for overlapping subscribers queue
// up here instead of deadlocking, and the blocking rule below reads success times no other node is changing.
const LOCK_SUBSCRIBERS = prepared('lock_subscribers', `
  SELECT id, status, deleted_at, last_success_at FROM subscribers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`);

// Success and failure times and blocks, one statement for every subscriber of the batch.
const MARK_SUBSCRIBERS = prepared('mark_subscribers', `
  UPDATE subscribers s SET
    last_success_at = greatest(s.last_success_at, m.success_at),
    last_failure_at = greatest(s.last_failure_at, m.failure_at),
    status = CASE WHEN m.blocked_at IS NULL THEN s.status ELSE 'blocked' END,
    updated_at = coalesce(m.blocked_at, s.updated_at)
  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS m(id, success_at, failure_at, blocked_at)
  WHERE s.id = m.id`);

// A handed-back delivery kept its next_attempt_at, which has passed: it is due again at once. Only lease_owner changes
// (a HOT update); a stale lease_until means nothing without an owner. The queue holds only queued and parked
// deliveries, so reading all of it for one owner's leases (no index holds lease_owner) stays small.
const RELEASE_ALL = 'UPDATE delivery_queue SET lease_owner = NULL WHERE lease_owner = $1';
const RELEASE_SOME = 'UPDATE delivery_queue SET lease_owner = NULL WHERE delivery_id = ANY($2::bigint[]) AND lease_owner = $1';

// Skip-scan over the due index: one index descent per subscriber with queued deliveries, O(subscribers · log n),
// never a read of every queued delivery. A leased delivery counts at its own next_attempt_at, which has passed: the
// claim that follows steps over it and answers when the leases end.
const DUE = `
  WITH RECURSIVE s(id) AS (
    (SELECT subscriber_id FROM delivery_queue WHERE next_attempt_at IS NOT NULL ORDER BY subscriber_id LIMIT 1)
    UNION ALL
    SELECT (SELECT q.subscriber_id FROM delivery_queue q
            WHERE q.next_attempt_at IS NOT NULL AND q.subscriber_id > s.id
            ORDER BY q.subscriber_id LIMIT 1)
    FROM s WHERE s.id IS NOT NULL
  )
  SELECT id AS "subscriberId",
    (SELECT min(next_attempt_at) FROM delivery_queue WHERE subscriber_id = s.id AND next_attempt_at IS NOT NULL) AS "nextAttemptAt"
  FROM s WHERE id IS NOT NULL`;

/** The delivery path's statements, for scripts/explain-postgres.ts (docs/postgres.md shows their plans). */
export const STATEMENTS = { claim: CLAIM, record: RECORD, due: DUE };

const QUEUE_DEPTH = 'SELECT count(*) AS n FROM delivery_queue WHERE next_attempt_at IS NOT NULL';

const STATUS_AFTER: Record<Exclude<AttemptResult['outcome']['kind'], 'park'>, string> = {
  success: 'SUCCESS',
  retry: 'FAILED',
  'give-up': 'DISABLED',
};

interface SubscriberState {
  id: number;
  status: string;
  deleted_at: number | null;
  last_success_at: number | null;
}

interface SubscriberMarks {
  successAt: number | null;
  failureAt: number | null;
  blockedAt: number | null;
}

/**
 * Blocking (DESIGN.md § Delivery semantics), as SQLite applies it result by result: a delivery gave up and its
 * subscriber has had no success since that delivery's run began (successes earlier in the batch count, later ones
 * do not), or the endpoint answered 410. Only an active, live subscriber is blocked, once.
 */
export function decideMarks(applied: AttemptResult[], subscribers: SubscriberState[]) {
  const state = new Map(subscribers.map((s) => [s.id, { ...s }]));
  const marks = new Map<number, SubscriberMarks>();
  const blocked: number[] = [];
  for (const r of applied) {
    const s = state.get(r.subscriberId);
    const m = marks.get(r.subscriberId) ?? { successAt: null, failureAt: null, blockedAt: null };
    marks.set(r.subscriberId, m);
    if (r.outcome.kind === 'success') {
      m.successAt = Math.max(m.successAt ?? 0, r.attemptedAt);
      if (s) s.last_success_at = Math.max(s.last_success_at ?? 0, r.attemptedAt);
      continue;
    }
    m.failureAt = Math.max(m.failureAt ?? 0, r.attemptedAt);
    if (r.outcome.kind !== 'give-up' || !s) continue;
    const since = s.last_success_at;
    const down = r.outcome.gone === true || since == null || since < r.runStartedAt;
    if (down && s.status === 'active' && s.deleted_at === null) {
      s.status = 'blocked';
      m.blockedAt = r.attemptedAt;
      blocked.push(r.subscriberId);
    }
  }
  return { marks, blocked };
}

/** A delivery appears once per batch: a later result for the same delivery would find its lease already gone. */
function firstPerDelivery(results: AttemptResult[]): AttemptResult[] {
  const seen = new Set<number>();
  return results.filter((r) => !seen.has(r.deliveryId) && (seen.add(r.deliveryId), true));
}

export function postgresDispatch(pool: pg.Pool, changed: () => void) {
  const bodies = new EventBodies();

  async function claim(requests: ClaimRequest[], owner: string, now: number): Promise<ClaimResult> {
    const deliveries: ClaimedDelivery[] = [];
    const nextDue = new Map<number, number | null>();
    if (requests.length === 0) return { deliveries, nextDue };
    // The same subscriber asked twice gets one request for both limits, as if claimed one after the other.
    const merged = new Map<number, { limit: number; leaseUntil: number }>();
    for (const r of requests) {
      const m = merged.get(r.subscriberId);
      if (m) (m.limit += r.limit), (m.leaseUntil = Math.max(m.leaseUntil, now + r.leaseMs));
      else merged.set(r.subscriberId, { limit: r.limit, leaseUntil: now + r.leaseMs });
    }
    const { rows } = await pool.query<ClaimRow>({ ...CLAIM, values: [
      [...merged.keys()],
      [...merged.values()].map((m) => m.limit),
      [...merged.values()].map((m) => m.leaseUntil),
      now,
      owner,
    ] });
    // A body each: the delivery's own, a kept one, or null until the read below.
    const bodyOf = rows.map((row) => (row.id === null ? null : (row.body !== null ? utf8(row.body) : (bodies.get(row.event_seq, row.event_id) ?? null))));
    const missing = [...new Set(rows.filter((row, i) => row.id !== null && bodyOf[i] === null).map((row) => row.event_seq))];
    // The leases above are committed: if this read fails, the claim throws and they run out (at-least-once, as after
    // a crash); the dispatcher backs off as for any failed claim.
    const read = new Map<number, Uint8Array>();
    if (missing.length > 0) {
      const { rows: events } = await pool.query<{ seq: number; id: string; body: string }>({ ...EVENT_BODIES, values: [missing] });
      for (const e of events) read.set(e.seq, bodies.keep(e.seq, e.id, utf8(e.body)));
    }
    rows.forEach((row, i) => {
      nextDue.set(row.subscriber_id, row.next_due);
      if (row.id !== null) deliveries.push(toClaimedDelivery(row as ClaimedRow, bodyOf[i] ?? read.get(row.event_seq)!));
    });
    return { deliveries, nextDue };
  }

  const record = (all: AttemptResult[], owner: string): Promise<RecordSummary> =>
    transaction(pool, async (client) => {
      const results = firstPerDelivery(all);
      if (results.length === 0) return { blocked: [] };
      const { rows } = await client.query<{ id: number }>({ ...RECORD, values: [
        owner,
        results.map((r) => r.deliveryId),
        results.map((r) => (r.outcome.kind === 'park' ? 'RESYNC' : STATUS_AFTER[r.outcome.kind])),
        results.map((r) => r.attempt),
        results.map((r) => r.attemptedAt),
        results.map((r) => r.runStartedAt),
        results.map((r) => r.durationMs),
        results.map((r) => r.responseCode),
        results.map((r) => r.responseBody),
        results.map((r) => r.error),
        results.map((r) => (r.outcome.kind === 'retry' ? r.outcome.nextAttemptAt : null)),
      ] });
      const appliedIds = new Set(rows.map((r) => r.id));
      const applied = results.filter((r) => appliedIds.has(r.deliveryId));
      if (applied.length === 0) return { blocked: [] };

      const subscriberIds = [...new Set(applied.map((r) => r.subscriberId))];
      const locked = await client.query<SubscriberState>({ ...LOCK_SUBSCRIBERS, values: [subscriberIds] });
      const { marks, blocked } = decideMarks(applied, locked.rows);
      const ids = [...marks.keys()];
      await client.query({ ...MARK_SUBSCRIBERS, values: [
        ids,
        ids.map((id) => marks.get(id)!.successAt),
        ids.map((id) => marks.get(id)!.failureAt),
        ids.map((id) => marks.get(id)!.blockedAt),
      ] });
      // The queues of subscribers the batch blocked are parked. Only when there are some: folded into MARK_SUBSCRIBERS
      // with an empty list, the planner still read every queued delivery (370-475 ms per batch on the bench).
      if (blocked.length > 0) await client.query(PARK_QUEUED, [blocked]);
      return { blocked };
    });

  return {
    claim,
    async record(results: AttemptResult[], owner: string): Promise<RecordSummary> {
      const summary = await record(results, owner);
      if (summary.blocked.length > 0) changed();
      return summary;
    },
    release: async (owner: string, ids?: number[]) => (await pool.query(ids ? RELEASE_SOME : RELEASE_ALL, ids ? [owner, ids] : [owner])).rowCount ?? 0,
    due: async () => (await pool.query<DueSubscriber>(DUE)).rows,
    queueDepth: async () => (await pool.query<{ n: number }>(QUEUE_DEPTH)).rows[0]!.n,
  };
}
