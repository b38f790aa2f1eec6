// Publishing in SQLite: events, their deliveries and idempotency keys written in one transaction.
import type Database from 'better-sqlite3';
import type { EventView, NewEvent, PublishResult, Tenant } from '../../domain/types.ts';
import { DELIVERY_COLUMNS, isoNow, toDeliveryView, type DeliveryRow } from './rows.ts';
import { subscribersToWake } from '../wake.ts';
import type { WalSync } from './wal-sync.ts';
import { WriteGate } from './write-gate.ts';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Rows (events and deliveries) after which a group commit ends its transaction, at the end of a publish. */
const TURN_ROWS = 2000;
/**
 * Rows a transaction writes between two turns of the event loop. A 500-event batch publish with ten deliveries each
 * (5 500 rows) held the main thread 35-105 ms in one piece, while the sending thread's ~500 attempts last ~30 ms: it ran
 * dry for half of the bench's first seconds. Every 1 000 rows (~10 ms) the dispatcher takes results and claims more.
 */
const CHUNK_ROWS = 1000;

interface QueuedPublish {
  tenant: Tenant;
  events: NewEvent[];
  now: number;
  /** Rows it writes: its events and their deliveries. */
  rows: number;
  resolve: (results: PublishResult[]) => void;
  reject: (error: unknown) => void;
}

type PublishOutcome = { results: PublishResult[] } | { error: unknown };

/** The publish at `index` of a transaction failed, and the transaction is rolled back. */
class PublishFailed extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super('a publish failed inside a group commit');
  }
}

/**
 * `walSync`: how commits are made durable off this thread; without it (an in-memory database) each commit is final.
 * `committed`: told, right after each commit and before its sync, which subscribers got deliveries to send.
 * `gate`: closed while a transaction stays open across turns of the event loop (write-gate.ts).
 */
export function sqliteEvents(
  db: Database.Database,
  walSync?: WalSync,
  committed?: (subscriberIds: Set<number>) => void,
  gate: WriteGate = new WriteGate(),
) {
  const insertEvent = db.prepare(`
    INSERT INTO events (id, organization_id, extension_id, company_id, application_id, slug, body, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertDelivery = db.prepare(`
    INSERT INTO deliveries (event_seq, event_id, subscriber_id, organization_id, extension_id, company_id, event_slug,
      status, next_attempt_at, body, last_error, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const selectKey = db.prepare(
    'SELECT event_id, created_at FROM idempotency_keys WHERE organization_id = ? AND extension_id = ? AND company_id = ? AND key = ?',
  );
  const upsertKey = db.prepare(`
    INSERT INTO idempotency_keys (organization_id, extension_id, company_id, key, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (organization_id, extension_id, company_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`);
  // Through events.id and deliveries_by_event: deliveries.event_id has no index, and a duplicate publish read the table.
  const countDeliveries = db.prepare(
    "SELECT count(*) AS n FROM events e JOIN deliveries d ON d.event_seq = e.seq WHERE e.id = ? AND d.status <> 'FILTER_ERROR'",
  );
  const selectEvent = db.prepare('SELECT * FROM events WHERE id = ? AND organization_id = ? AND extension_id = ?');
  const selectEventDeliveries = db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE event_seq = ? ORDER BY id`);

  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const lastDeliveryId = db.prepare('SELECT coalesce(max(id), 0) FROM deliveries').pluck();

  function writeEvent(tenant: Tenant, event: NewEvent, now: number): PublishResult {
    if (event.idempotencyKey !== null) {
      const seen = selectKey.get(tenant.organizationId, tenant.extensionId, event.companyId, event.idempotencyKey) as
        | { event_id: string; created_at: number }
        | undefined;
      if (seen && seen.created_at > now - IDEMPOTENCY_WINDOW_MS) {
        const n = (countDeliveries.get(seen.event_id) as { n: number }).n;
        return { event_id: seen.event_id, deliveries: n, duplicate: true };
      }
      upsertKey.run(tenant.organizationId, tenant.extensionId, event.companyId, event.idempotencyKey, event.id, now);
    }
    const seq = insertEvent.run(
      event.id, tenant.organizationId, tenant.extensionId, event.companyId, event.applicationId, event.slug, event.body, event.createdAt,
    ).lastInsertRowid;
    for (const d of event.deliveries) {
      insertDelivery.run(
        seq, event.id, d.subscriberId, tenant.organizationId, tenant.extensionId, event.companyId, event.slug,
        d.status, d.status === 'PENDING' ? event.createdAt : null, d.body ?? null, d.error ?? null, event.createdAt,
      );
    }
    const created = event.deliveries.filter((d) => d.status !== 'FILTER_ERROR').length;
    return { event_id: event.id, deliveries: created, duplicate: false };
  }

  // Group commit: the publishes waiting when a commit starts share one transaction, so one write of each page they
  // touch and one sync; one that fails is rolled back and rejected alone (writeTurn). A commit writes its pages to the
  // WAL without syncing, and the sync runs in the thread pool (wal-sync.ts); publishes are answered when it is done,
  // and those that arrive meanwhile wait for it and then commit together. A single-event publish had held this thread
  // ~0.6 ms (each commit writes every page it touches, about 20 for an event with ten deliveries, then waited for its
  // sync), one in a batch of 500 ~0.1 ms; at ~460 publishes a second, commits were 43 % of this thread's wall time,
  // most of it waiting for the disk.
  let queued: QueuedPublish[] = [];
  let scheduled = false;
  /** The sync of the last group's commit, while it runs. */
  let syncing: Promise<void> | undefined;
  const stats = { commits: 0, publishes: 0 };
  function schedule(): void {
    if (scheduled || syncing || queued.length === 0) return;
    scheduled = true;
    setImmediate(commitQueued);
  }
  /**
   * Commits the publishes queued so far, a turn at a time, then syncs once and answers them all. A turn holds whole
   * publishes up to TURN_ROWS rows: four batch publishes of 500 events with ten deliveries each had made one ~200 ms
   * transaction, during which the dispatcher could neither claim nor take results and the sending thread ran dry.
   */
  function commitQueued(): void {
    scheduled = false;
    const group = queued;
    queued = [];
    if (group.length === 0) return;
    syncing = commitInTurns(group).finally(() => {
      syncing = undefined;
      schedule();
    });
  }

  async function commitInTurns(group: QueuedPublish[]): Promise<void> {
    const committed: { turn: QueuedPublish[]; outcomes: PublishOutcome[] }[] = [];
    for (let start = 0; start < group.length; ) {
      const turn = takeTurn(group, start);
      start += turn.length;
      const outcomes = await commitTurn(turn);
      if (outcomes) committed.push({ turn, outcomes });
      // The first turn commits at once, within the caller's turn of the event loop; the others after claims, results
      // and requests that came in meanwhile.
      if (start < group.length) await nextTurn();
    }
    if (walSync) {
      try {
        await walSync.sync();
      } catch (error) {
        // Not known to be on disk, so not acknowledged: the publisher tries again (an idempotency key makes that safe).
        for (const { turn } of committed) for (const p of turn) p.reject(error);
        return;
      }
    }
    for (const { turn, outcomes } of committed) {
      outcomes.forEach((o, i) => ('error' in o ? turn[i]!.reject(o.error) : turn[i]!.resolve(o.results)));
    }
  }

  function takeTurn(group: QueuedPublish[], start: number): QueuedPublish[] {
    let rows = 0;
    let end = start;
    while (end < group.length && (end === start || rows < TURN_ROWS)) rows += group[end++]!.rows;
    return group.slice(start, end);
  }

  /**
   * Writes one turn's publishes in one transaction and returns each one's outcome. One that fails is rolled back
   * alone: the transaction is rolled back, and the publishes before it, it, and those after it are written again, in
   * that order, in three transactions (those after it again by this rule).
   *
   * Not a savepoint per publish, which would roll back only the failing one: a savepoint journals the first change of
   * each page it touches, and past 64 KiB (16 pages; a single-event publish with ten deliveries touches ~25) SQLite
   * spills that journal to a temporary file it creates, writes and deletes, for every publish: with savepoints a
   * single-event publish took 700-830 µs of CPU, without them 400-550 (bench/publish-cpu.ts: 3 000 publishes, two at
   * a time, three rounds each). A failing publish is rare (a duplicate event id, a constraint), so it pays instead.
   */
  async function writeTurn(turn: QueuedPublish[]): Promise<PublishOutcome[]> {
    let failed: PublishFailed;
    try {
      return (await writeTransaction(turn)).map((results) => ({ results }));
    } catch (error) {
      if (!(error instanceof PublishFailed)) throw error;
      failed = error;
    }
    if (turn.length === 1) return [{ error: failed.cause }];
    // Each part settles alone: one whose transaction fails does not undo what an earlier part committed.
    const settle = async (part: QueuedPublish[]): Promise<PublishOutcome[]> => {
      if (part.length === 0) return [];
      try {
        return await writeTurn(part);
      } catch (error) {
        return part.map(() => ({ error }));
      }
    };
    return [
      ...(await settle(turn.slice(0, failed.index))),
      ...(await settle([turn[failed.index]!])),
      ...(await settle(turn.slice(failed.index + 1))),
    ];
  }

  /**
   * One transaction for the publishes given, committed whole or rolled back: a PublishFailed says which publish failed,
   * any other error that the transaction itself did (it could not begin or commit, or SQLite rolled it back: a full
   * disk, an I/O error). Past CHUNK_ROWS rows it lets the event loop turn and goes on in the same transaction, with
   * the gate closed (write-gate.ts); fewer rows run to the commit without leaving this turn of the event loop.
   */
  async function writeTransaction(turn: QueuedPublish[]): Promise<PublishResult[][]> {
    const chunked = turn.reduce((rows, p) => rows + p.rows, 0) > CHUNK_ROWS;
    if (walSync) db.pragma('synchronous = NORMAL'); // the sync runs off the thread once the group is written
    try {
      begin.run();
      if (chunked) gate.close(lastDeliveryId.get() as number);
      const written: PublishResult[][] = [];
      let sinceTurn = 0;
      for (const [index, p] of turn.entries()) {
        const results: PublishResult[] = [];
        try {
          for (const event of p.events) {
            results.push(writeEvent(p.tenant, event, p.now));
            sinceTurn += 1 + event.deliveries.length;
            if (chunked && sinceTurn >= CHUNK_ROWS) {
              sinceTurn = 0;
              await nextTurn();
            }
          }
        } catch (error) {
          if (!db.inTransaction) throw error; // SQLite rolled the whole transaction back itself
          throw new PublishFailed(index, error);
        }
        written.push(results);
      }
      commit.run();
      stats.commits++;
      stats.publishes += turn.length;
      return written;
    } catch (error) {
      if (db.inTransaction) rollback.run();
      throw error;
    } finally {
      gate.open();
      if (walSync) db.pragma('synchronous = FULL');
    }
  }

  /** Commits one turn and wakes the dispatcher for it; returns each publish's outcome, or null when the commit failed. */
  async function commitTurn(turn: QueuedPublish[]): Promise<PublishOutcome[] | null> {
    let outcomes: PublishOutcome[];
    try {
      outcomes = await writeTurn(turn);
    } catch (error) {
      for (const p of turn) p.reject(error); // the commit itself failed: none of them was written
      return null;
    }
    // The dispatcher is woken now, not after the sync: the rows are visible to its claims from this commit on, and a
    // claim round running for other reasons took them anyway, so a wake after the sync found them claimed (bench
    // latency phase: ~2 000 of ~5 000 subscriber claims a second came back empty that way). A power cut within the
    // sync can then lose a delivery already sent, as wal-sync.ts describes: the publisher, not answered, publishes
    // again. Waking at the 202 also added every sync's time, and every stall of the disk, to each delivery's latency.
    if (committed) {
      const woken = new Set<number>();
      outcomes.forEach((o, i) => 'results' in o && subscribersToWake(turn[i]!.events, o.results, woken));
      try {
        if (woken.size > 0) committed(woken);
      } catch {
        // Not this turn's failure: it is committed and must still be answered. The dispatcher's periodic rescan
        // finds deliveries no wake-up announced.
      }
    }
    // Written: what waits for the sync from here is each publish's answer, not its events and their bodies, which
    // would otherwise survive (and be copied by) the scavenges until then.
    for (const p of turn) p.events = [];
    return outcomes;
  }

  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  return {
    /** Resolves once the event is committed (and fsynced): a 202 may be answered. */
    publish: (tenant: Tenant, events: NewEvent[], now: number): Promise<PublishResult[]> =>
      new Promise((resolve, reject) => {
        const rows = events.reduce((n, event) => n + 1 + event.deliveries.length, 0);
        queued.push({ tenant, events, now, rows, resolve, reject });
        schedule();
      }),
    /** Commits what is queued and waits until it is on disk (before the store closes). */
    flush: async (): Promise<void> => {
      await syncing;
      commitQueued();
      await syncing;
      walSync?.close();
    },
    /** Group commits so far, and the publishes they held. */
    stats,
    get(tenant: Tenant, eventId: string): EventView | null {
      const row = selectEvent.get(eventId, tenant.organizationId, tenant.extensionId) as
        | { seq: number; id: string; slug: string; company_id: number; application_id: string | null; body: string; created_at: number }
        | undefined;
      if (!row) return null;
      return {
        id: row.id,
        event_slug: row.slug,
        company_id: row.company_id,
        application_id: row.application_id,
        created_on: isoNow(row.created_at),
        body: JSON.parse(row.body),
        deliveries: (selectEventDeliveries.all(row.seq) as DeliveryRow[]).map(toDeliveryView),
      };
    },
  };
}
