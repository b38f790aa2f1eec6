// SQLite only: the WAL is checkpointed by a thread of the store's own, not inside the commits of publishes and results.
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tenant } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { eventually } from '../helpers/app.ts';

const TENANT: Tenant = { organizationId: 'org_acme', extensionId: 'ext_orders' };

let dir: string;
let file: string;
let store: Store | undefined;

beforeEach(() => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-wal-');
  file = join(dir, 'hookd.db');
});
afterEach(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes `n` events of ~4 KiB with no deliveries: pages for the WAL. */
async function publish(s: Store, n: number, from = 0): Promise<void> {
  const now = Date.now();
  const body = JSON.stringify({ pad: 'x'.repeat(4000) });
  for (let i = from; i < from + n; i += 50) {
    const events = Array.from({ length: 50 }, (_, k) => ({
      id: `evt_wal_${i + k}`, companyId: 1, applicationId: null, slug: 'company/product/create/v1', body, createdAt: now,
      idempotencyKey: null, deliveries: [],
    }));
    await s.publish(TENANT, events, now);
  }
}

/** The WAL header's checkpoint sequence number: how many times the WAL was started over. */
function walRestarts(): number {
  const fd = openSync(`${file}-wal`, 'r');
  try {
    const header = Buffer.alloc(16);
    readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

describe('SQLite WAL checkpoints', () => {
  it('leaves commits without checkpoints and folds the WAL into the file from its own thread', async () => {
    store = openSqliteStore(file);
    const before = statSync(file).size;
    await publish(store, 1000); // ~4 MB of pages, committed into the WAL
    // The file itself grows only when pages are copied back from the WAL: by the checkpointer, within a moment.
    await eventually(async () => statSync(file).size > before + 2_000_000, 5_000, 50);
    await store.close();
    store = undefined;
    // The last connection to close folded what was left and removed the WAL.
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('keeps the WAL bounded while commits never stop, by restarting it once it has grown past the limit', async () => {
    // Checkpoints every 250 ms: the WAL grows by a pass's worth of commits past the limit, and this bounds the passes.
    store = openSqliteStore(file, { checkpoint: { restartAboveBytes: 2_000_000, everyMs: 250 } });
    // Single-event publishes back to back for 2 s (~4 KiB each, tens of MB of WAL in all): a passive checkpoint copies
    // the WAL into the file but never finds it done with no commit since, and only then is the WAL written from its start.
    let largest = 0;
    let restartsBefore: number | undefined;
    const body = JSON.stringify({ pad: 'x'.repeat(4000) });
    for (let i = 0, until = Date.now() + 2000; Date.now() < until; i++) {
      const now = Date.now();
      const event = {
        id: `evt_busy_${i}`, companyId: 1, applicationId: null, slug: 'company/product/create/v1', body, createdAt: now,
        idempotencyKey: null, deliveries: [],
      };
      await store.publish(TENANT, [event], now);
      restartsBefore ??= walRestarts();
      largest = Math.max(largest, statSync(`${file}-wal`).size);
    }
    expect(walRestarts()).toBeGreaterThan(restartsBefore!);
    expect(largest).toBeLessThan(30_000_000); // it reached 86 MB on this machine without the restarts
  });

  it('sets the store connection’s own automatic checkpoint off', async () => {
    store = openSqliteStore(file);
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
  });
});
