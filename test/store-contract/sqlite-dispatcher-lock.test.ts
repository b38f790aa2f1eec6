// SQLite only: one process dispatches from a file at a time, because its delivery leases live in its memory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Tenant } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/index.ts';
import { DispatcherLock } from '../../src/store/sqlite/dispatcher-lock.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { migrateSqlite } from '../../src/store/sqlite/migrate.ts';
import { queuedSubscriber } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_acme', extensionId: 'ext_orders' };

let dir: string;
let file: string;
const opened: Store[] = [];
const open = () => {
  const store = openSqliteStore(file);
  opened.push(store);
  return store;
};

beforeEach(() => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-lock-');
  file = join(dir, 'hookd.db');
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One subscriber with `n` due deliveries; returns its id. */
const queue = (store: Store, n: number) => queuedSubscriber(store, TENANT, { deliveries: n });

const claim = (store: Store, subscriberId: number) => store.claim([{ subscriberId, limit: 10, leaseMs: 30_000 }], 'node', Date.now());

function writeLock(pid: number, heartbeatAt: number): void {
  const db = new Database(file);
  db.prepare('INSERT OR REPLACE INTO dispatcher_lock (id, owner, host, pid, heartbeat_at) VALUES (1, ?, ?, ?, ?)').run('someone-else', hostname(), pid, heartbeatAt);
  db.close();
}

describe('SQLite dispatcher lock', () => {
  it('lets one store claim; the other gets nothing and is told to ask again, until the first closes', async () => {
    const first = open();
    const second = open();
    const id = await queue(first, 3);
    expect((await claim(first, id)).deliveries).toHaveLength(3);

    const before = Date.now();
    const refused = await claim(second, id);
    expect(refused.deliveries).toEqual([]);
    expect(refused.nextDue.get(id)).toBeGreaterThanOrEqual(before + 1000);

    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the waiting store looks again once a second
    // The first process is gone, and its leases with it: everything is due again for the second.
    expect((await claim(second, id)).deliveries).toHaveLength(3);
  });

  it("ignores a result for a delivery another process on the file cancelled meanwhile (its leases are not this one's)", async () => {
    const dispatcher = open();
    const api = open();
    const id = await queue(dispatcher, 1);
    const [claimed] = (await claim(dispatcher, id)).deliveries;
    expect(await api.deleteSubscriber(TENANT, id, Date.now())).toBe(true);
    const now = Date.now();
    await dispatcher.recordAttempts([{
      deliveryId: claimed!.id, subscriberId: id, attempt: 1, attemptedAt: now, runStartedAt: now, durationMs: 3,
      responseCode: 200, responseBody: 'ok', error: null, outcome: { kind: 'success' },
    }], 'node');
    const detail = await api.getDelivery(TENANT, claimed!.id);
    expect(detail).toMatchObject({ status: 'DISABLED', attempts: [] });
  });

  it('takes over at once from a holder whose process has exited on this host', async () => {
    const store = open();
    const id = await queue(store, 1);
    const exited = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeLock(exited, Date.now());
    expect((await claim(store, id)).deliveries).toHaveLength(1);
  });

  it('waits for a live holder, and takes over from one that stopped renewing', async () => {
    const store = open();
    const id = await queue(store, 1);
    writeLock(process.ppid, Date.now()); // alive, and not this store
    expect((await claim(store, id)).deliveries).toEqual([]);

    writeLock(process.ppid, Date.now() - 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await claim(store, id)).deliveries).toHaveLength(1);
  });

  it('writes its heartbeat with synchronous=NORMAL (no fsync on the main thread), and leaves the connection at FULL', () => {
    const db = new Database(file);
    try {
      migrateSqlite(db);
      db.pragma('synchronous = FULL');
      const seen: unknown[] = [];
      const prepare = db.prepare.bind(db);
      vi.spyOn(db, 'prepare').mockImplementation(((sql: string) => {
        const statement = prepare(sql);
        if (sql.includes('INSERT INTO dispatcher_lock')) {
          const run = statement.run.bind(statement);
          statement.run = (...args: unknown[]) => {
            seen.push(db.pragma('synchronous', { simple: true }));
            return run(...args);
          };
        }
        return statement;
      }) as typeof db.prepare);
      expect(new DispatcherLock(db).holds()).toBe(true);
      expect(seen).toEqual([1]);
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });
});
