// SQLite only: publishes that reach the store in one turn of the event loop share one transaction (one fsync) up to
// ~2 000 rows, a larger group commits in several, each letting the event loop turn every 1 000 rows (more in
// sqlite-chunked-publish.test.ts), and one that fails inside the group is rolled
// back and rejected alone; with the WAL synced off the thread, a publish is
// answered only after its fsync, and publishes that come while it runs commit together after it. A real database file,
// migrated by the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent, Tenant } from '../../src/domain/types.ts';
import { sqliteEvents } from '../../src/store/sqlite/events.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { WalSync } from '../../src/store/sqlite/wal-sync.ts';

const TENANT: Tenant = { organizationId: 'org_group', extensionId: 'ext_group' };
let dir: string;
let file: string;
let db: Database.Database;
let events: ReturnType<typeof sqliteEvents>;

beforeEach(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-group-');
  file = join(dir, 'hookd.db');
  await openSqliteStore(file).close(); // creates and migrates the file
  db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  events = sqliteEvents(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (id: string, idempotencyKey: string | null = null): NewEvent => ({
  id,
  companyId: 1,
  applicationId: null,
  slug: 'company/product/create/v1',
  idempotencyKey,
  body: '{}',
  createdAt: Date.now(),
  deliveries: [],
});
const stored = () => (db.prepare('SELECT id FROM events ORDER BY seq').pluck().all() as string[]);

describe('SQLite group commit of publishes', () => {
  it('commits publishes made in one turn of the event loop together, in order', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `evt_group_${i}`);
    const results = await Promise.all(ids.map((id) => events.publish(TENANT, [event(id)], Date.now())));
    expect(results.map((r) => r[0]!.event_id)).toEqual(ids);
    expect(events.stats).toEqual({ commits: 1, publishes: 20 });
    expect(stored()).toEqual(ids);
  });

  it('commits a group of large publishes one transaction per ~2 000 rows, letting the event loop run while each is written', async () => {
    const large = (p: number) => Array.from({ length: 2000 }, (_, i) => event(`evt_large_${p}_${i}`));
    const publishes = Promise.all([0, 1, 2].map((p) => events.publish(TENANT, large(p), Date.now())));
    // What another connection sees at each turn of the event loop until all three are written.
    const reader = new Database(file, { readonly: true });
    const committed: number[] = [];
    let done = false;
    void publishes.then(() => (done = true));
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      committed.push(reader.prepare('SELECT count(*) FROM events').pluck().get() as number);
    }
    reader.close();
    // Every 1 000 rows a turn (two per publish here), and never a publish half committed.
    expect(committed.length).toBeGreaterThanOrEqual(6);
    expect(new Set(committed)).toEqual(new Set([0, 2000, 4000, 6000]));
    expect(events.stats).toEqual({ commits: 3, publishes: 3 });
    expect(stored()).toHaveLength(6000);
  });

  it('commits publishes that wait for each other one by one', async () => {
    for (let i = 0; i < 5; i++) await events.publish(TENANT, [event(`evt_seq_${i}`)], Date.now());
    expect(events.stats).toEqual({ commits: 5, publishes: 5 });
  });

  it('rejects a publish that fails inside the group alone, and commits the others', async () => {
    await events.publish(TENANT, [event('evt_taken')], Date.now());
    const outcomes = await Promise.allSettled([
      events.publish(TENANT, [event('evt_before')], Date.now()),
      events.publish(TENANT, [event('evt_new'), event('evt_taken')], Date.now()), // its second event collides
      events.publish(TENANT, [event('evt_after')], Date.now()),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The failing publish is rolled back whole: its first event is not kept either.
    expect(stored()).toEqual(['evt_taken', 'evt_before', 'evt_after']);
  });

  it('rejects each failing publish of a group alone, first and last ones too, and keeps the order of the rest', async () => {
    await events.publish(TENANT, [event('evt_taken_a'), event('evt_taken_b')], Date.now());
    const commitsBefore = events.stats.commits;
    const ids = ['evt_taken_a', 'evt_1', 'evt_taken_b', 'evt_2', 'evt_3', 'evt_taken_a'];
    const outcomes = await Promise.allSettled(ids.map((id) => events.publish(TENANT, [event(id)], Date.now())));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
    const reason = (outcomes[0] as PromiseRejectedResult).reason as { code?: string };
    expect(reason.code).toBe('SQLITE_CONSTRAINT_UNIQUE'); // the publish's own error, not a wrapper
    expect(stored()).toEqual(['evt_taken_a', 'evt_taken_b', 'evt_1', 'evt_2', 'evt_3']);
    // Rolled back and written again around each failure: evt_1 alone, then evt_2 and evt_3 together.
    expect(events.stats.commits - commitsBefore).toBe(2);
  });

  it('keeps the publishes committed before a failure, when writing the rest again then fails as a whole', async () => {
    await events.publish(TENANT, [event('evt_taken')], Date.now());
    // SQLite rolls back the whole transaction of this one itself: the error is the transaction's, not the publish's.
    db.exec("CREATE TRIGGER roll_back BEFORE INSERT ON events WHEN NEW.id = 'evt_rolls_back' BEGIN SELECT RAISE(ROLLBACK, 'rolled back'); END");
    const outcomes = await Promise.allSettled(
      ['evt_kept', 'evt_taken', 'evt_rolls_back'].map((id) => events.publish(TENANT, [event(id)], Date.now())),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(stored()).toEqual(['evt_taken', 'evt_kept']);
  });

  it('sees an idempotency key used earlier in the same group', async () => {
    const [first, second] = await Promise.all([
      events.publish(TENANT, [event('evt_key_1', 'order-7')], Date.now()),
      events.publish(TENANT, [event('evt_key_2', 'order-7')], Date.now()),
    ]);
    expect(first![0]).toMatchObject({ event_id: 'evt_key_1', duplicate: false });
    expect(second![0]).toMatchObject({ event_id: 'evt_key_1', duplicate: true });
    expect(events.stats.commits).toBe(1);
  });
});

/** A real fsync of the WAL that starts only when the test opens the gate (or fails, when told to). */
class GatedWalSync extends WalSync {
  calls = 0;
  private opened = false;
  private waiting: (() => void)[] = [];
  failNext: Error | undefined;

  override async sync(): Promise<void> {
    this.calls++;
    if (!this.opened) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    return super.sync();
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await turn();
  return done;
};

describe('SQLite group commit with the WAL synced off the thread', () => {
  let wal: GatedWalSync;
  beforeEach(() => {
    wal = new GatedWalSync(`${file}-wal`);
    events = sqliteEvents(db, wal);
  });
  afterEach(() => wal.close());

  it('answers a publish only once the WAL is synced, with the row committed before and FULL restored after', async () => {
    const publishing = events.publish(TENANT, [event('evt_synced')], Date.now());
    await turn();
    expect(events.stats.commits).toBe(1);
    expect(stored()).toEqual(['evt_synced']); // committed (another connection would see it) but not yet on disk
    expect(await settled(publishing)).toBe(false);
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL for every other write on the connection
    wal.open();
    expect((await publishing)[0]).toMatchObject({ event_id: 'evt_synced', duplicate: false });
    expect(wal.calls).toBe(1);
  });

  it('commits the publishes that came while a sync ran together, after it', async () => {
    const first = events.publish(TENANT, [event('evt_first')], Date.now());
    await turn();
    const later = [];
    for (let i = 0; i < 3; i++) {
      later.push(events.publish(TENANT, [event(`evt_later_${i}`)], Date.now()));
      await turn(); // separate turns: without the wait they would be three commits
    }
    expect(events.stats).toEqual({ commits: 1, publishes: 1 });
    wal.open();
    await Promise.all([first, ...later]);
    expect(events.stats).toEqual({ commits: 2, publishes: 4 });
    expect(wal.calls).toBe(2);
    expect(stored()).toEqual(['evt_first', 'evt_later_0', 'evt_later_1', 'evt_later_2']);
  });

  it('rejects the publishes of a group whose sync failed, and goes on with the next', async () => {
    wal.failNext = new Error('EIO: i/o error, fsync');
    wal.open();
    await expect(events.publish(TENANT, [event('evt_unsynced')], Date.now())).rejects.toThrow('EIO');
    await expect(events.publish(TENANT, [event('evt_next')], Date.now())).resolves.toMatchObject([{ event_id: 'evt_next' }]);
  });

  it('tells which subscribers got deliveries to send as soon as the group commits, before its sync', async () => {
    const told: number[][] = [];
    events = sqliteEvents(db, wal, (ids) => told.push([...ids].sort((a, b) => a - b)));
    const withDeliveries = (id: string, key: string | null = null): NewEvent => ({
      ...event(id, key),
      deliveries: [
        { subscriberId: 3, status: 'PENDING' },
        { subscriberId: 1, status: 'PENDING' },
        { subscriberId: 7, status: 'RESYNC' }, // parked: nothing to send
        { subscriberId: 9, status: 'FILTER_ERROR', error: 'filter failed: boom' },
      ],
    });
    const first = events.publish(TENANT, [withDeliveries('evt_woken', 'order-1')], Date.now());
    await turn();
    expect(told).toEqual([[1, 3]]);
    expect(await settled(first)).toBe(false); // not yet on disk, so not answered: the dispatcher was told first
    wal.open();
    await first;
    // A duplicate of an idempotency key writes no delivery, so it wakes nobody.
    await events.publish(TENANT, [withDeliveries('evt_duplicate', 'order-1')], Date.now());
    expect(told).toEqual([[1, 3]]);
  });

  it('answers a committed publish even when telling the dispatcher throws', async () => {
    events = sqliteEvents(db, wal, () => {
      throw new Error('listener bug');
    });
    wal.open();
    const published = events.publish(TENANT, [{ ...event('evt_told'), deliveries: [{ subscriberId: 1, status: 'PENDING' }] }], Date.now());
    await expect(published).resolves.toMatchObject([{ event_id: 'evt_told', duplicate: false }]);
    expect(stored()).toEqual(['evt_told']);
  });

  it('lets go of a publish\'s events once they are committed, while it waits for the sync', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Made in a function of its own, so that nothing in this one holds the event but the WeakRef.
    const publish = () => {
      const made = event('evt_let_go');
      return { ref: new WeakRef(made), publishing: events.publish(TENANT, [made], Date.now()) };
    };
    const { ref, publishing } = publish();
    await turn();
    expect(stored()).toEqual(['evt_let_go']); // committed, its sync not yet done
    gc();
    expect(ref.deref()).toBeUndefined();
    wal.open();
    expect((await publishing)[0]).toMatchObject({ event_id: 'evt_let_go' });
  });

  it('flush commits what waits and returns once it is on disk, its publish answered', async () => {
    let answered = false;
    const publishing = events.publish(TENANT, [event('evt_flushed')], Date.now()).then(() => (answered = true));
    const flushing = events.flush();
    expect(await settled(flushing)).toBe(false); // committed, and waiting for the sync
    expect(stored()).toEqual(['evt_flushed']);
    wal.open();
    await flushing;
    expect(answered).toBe(true);
    await publishing;
  });
});
