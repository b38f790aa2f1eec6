// CPU per single-event publish in the SQLite store: what a publish costs hookd's process at the store, without HTTP.
// The bench's latency phase publishes one event (ten deliveries) per request, and each costs several times what an
// event of a batch does; this isolates the store's share of it. A real file, a real fsync of each group's commit.
//
//   node --import tsx bench/publish-cpu.ts [in flight = 2] [publishes = 3000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import { storeBenchEvents } from './store-events.ts';

const inFlight = Number(process.argv[2] ?? 2);
const publishes = Number(process.argv[3] ?? 3000);
const SUBSCRIBERS = 100;
const FANOUT = 10;

const dir = mkdtempSync(join(tmpdir(), 'hookd-publish-cpu-'));
const store = openSqliteStore(join(dir, 'hookd.db'));
const tenant = { organizationId: 'org_bench', extensionId: 'ext_bench' };
const event = storeBenchEvents(SUBSCRIBERS, FANOUT);

try {
  // 20 000 events first, in batches, so that the tables and indexes have the depth of a database in use.
  for (let i = 0; i < 40; i++) await store.publish(tenant, Array.from({ length: 500 }, event), Date.now());
  const cpu = process.cpuUsage();
  const started = performance.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent < publishes) {
        sent++;
        await store.publish(tenant, [event()], Date.now());
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - started;
  const per = (us: number) => (us / publishes).toFixed(0);
  process.stdout.write(
    `${publishes} single-event publishes (${FANOUT} deliveries each), ${inFlight} in flight: ${ms.toFixed(0)} ms, ` +
      `CPU per publish ${per(used.user + used.system)} µs (user ${per(used.user)}, system ${per(used.system)})\n`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
