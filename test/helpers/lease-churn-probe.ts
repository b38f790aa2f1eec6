// Run with --expose-gc: takes and drops a lease per step on a Leases whose maps are already in the old generation, as
// under load, and prints how much the old generation grew. `renew` copies the maps every 1 000 steps, as a claim does.
import { getHeapSpaceStatistics } from 'node:v8';
import { Leases } from '../../src/store/sqlite/leases.ts';

const oldUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
const gc = (globalThis as unknown as { gc: () => void }).gc;
const renew = process.argv[2] === 'renew';
const companyId = 1;

const leases = new Leases();
let next = 0;
for (; next < 1000; next++) leases.take(next, next % 50, next, 'owner', Number.MAX_SAFE_INTEGER, companyId);
gc();
gc();
const before = oldUsed();
for (let step = 0; step < 100_000; step++, next++) {
  leases.drop(next - 1000);
  leases.take(next, next % 50, next, 'owner', Number.MAX_SAFE_INTEGER, companyId);
  if (renew && step % 1000 === 0) leases.renew();
}
process.stdout.write(`LEASE-CHURN ${JSON.stringify({ oldGrewBytes: oldUsed() - before })}\n`);
