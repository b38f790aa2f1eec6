// CPU per delivery of each stage the dispatcher's work costs the SQLite store, without HTTP: publishing (500-event
// batches, ten deliveries each), claiming (rounds over every subscriber) and recording results (every claimed delivery
// succeeds). A real file; 20 000 events per round, claimed and recorded until none is left.
//
//   node --import tsx bench/store-cpu.ts [rounds = 3] [index,index… to drop first, to see what one costs]
//
// An index that one of the store's statements names in INDEXED BY cannot be dropped: the store would not open.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AttemptResult } from '../src/store/port.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import { storeBenchEvents } from './store-events.ts';

const rounds = Number(process.argv[2] ?? 3);
const dropped = (process.argv[3] ?? '').split(',').filter(Boolean);
const SUBSCRIBERS = 100;
const FANOUT = 10;
const EVENTS = 20_000;
const CLAIM_EACH = 10;

const dir = mkdtempSync(join(tmpdir(), 'hookd-store-cpu-'));
const file = join(dir, 'hookd.db');
await openSqliteStore(file).close(); // creates and migrates the file
if (dropped.length > 0) {
  const db = new Database(file);
  for (const index of dropped) db.exec(`DROP INDEX ${index}`);
  db.close();
}
const store = openSqliteStore(file);
// Tenant ids as long as the platform's (24 hex digits): the indexes by tenant hold them.
const tenant = { organizationId: '5e4f3a2b1c0d9e8f7a6b5c4d', extensionId: '6a5b4c3d2e1f0a9b8c7d6e5f' };
const event = storeBenchEvents(SUBSCRIBERS, FANOUT);
const cpu = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};
const requests = Array.from({ length: SUBSCRIBERS }, (_, i) => ({ subscriberId: i + 1, limit: CLAIM_EACH, leaseMs: 60_000 }));

try {
  for (let round = 1; round <= rounds; round++) {
    const spent = { publish: 0, claim: 0, record: 0 };
    let started = cpu();
    for (let i = 0; i < EVENTS / 500; i++) await store.publish(tenant, Array.from({ length: 500 }, event), Date.now());
    spent.publish = cpu() - started;
    let delivered = 0;
    for (;;) {
      const now = Date.now();
      started = cpu();
      const { deliveries } = await store.claim(requests, 'store-cpu', now);
      spent.claim += cpu() - started;
      if (deliveries.length === 0) break;
      const results: AttemptResult[] = deliveries.map((d) => ({
        deliveryId: d.id, subscriberId: d.subscriberId, attempt: d.attemptCount + 1, attemptedAt: now, runStartedAt: now,
        durationMs: 1.25, responseCode: 200, responseBody: 'ok', error: null, outcome: { kind: 'success' },
      }));
      started = cpu();
      await store.recordAttempts(results, 'store-cpu');
      spent.record += cpu() - started;
      delivered += deliveries.length;
    }
    const per = (us: number) => (us / delivered).toFixed(1);
    process.stdout.write(
      `round ${round}: ${delivered} deliveries; CPU per delivery: publish ${per(spent.publish)}, claim ${per(spent.claim)}, ` +
        `record ${per(spent.record)}, in all ${per(spent.publish + spent.claim + spent.record)} µs\n`,
    );
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
