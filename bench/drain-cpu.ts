// The bench's drain alone, thread by thread: hookd (HOOKD_ROLE=api) publishes the workload's deliveries through the
// batch endpoint with no dispatcher, then hookd on the same SQLite file drains them to the bench's receiver. Prints
// the CPU per delivery of each of hookd's threads (its main thread, the busiest other one — the sending thread —, and
// the rest: V8's helpers, the checkpointer, the thread pool) and of the receiver, and the bytes hookd wrote to disk per
// delivery (the WAL, then the checkpoint). Per thread and per delivery, it tells where a change saves CPU when
// whole-bench pairs cannot: the machine's speed drifts more between runs than most changes move the ratio.
//
//   node --import tsx bench/drain-cpu.ts [events = 20000]   (× fan-out 10, 100 subscribers)
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiClient, createSubscribers, publishBatches, startHookd } from './hookd.ts';
import { startReceiver } from './receiver-client.ts';
import { maxInFlightFor } from './runs.ts';
import { statCpuSeconds } from './stats.ts';
import { makeWorkload } from './workload.ts';

const w = makeWorkload(Number(process.argv[2] ?? 20_000), 100, 10, 64);

/** CPU time of each thread of a process so far, µs, by thread id (a thread that ended meanwhile is left out). */
function threadCpu(pid: number): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const seconds = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
    if (!Number.isNaN(seconds)) cpu.set(tid, seconds * 1e6);
  }
  return cpu;
}

const writtenBytes = (pid: number): number => Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);

const dir = mkdtempSync(join(tmpdir(), 'hookd-drain-cpu-'));
const dbPath = join(dir, 'hookd.db');
const receiver = await startReceiver();
try {
  const publisher = await startHookd({ dbPath, role: 'api', concurrency: w.concurrency });
  const api = apiClient(publisher.url);
  await createSubscribers(api, w, (i) => receiver.url(i), maxInFlightFor(w));
  const published = await publishBatches(api, w);
  await api.close();
  await publisher.stop();
  if (published.deliveries !== w.deliveries) throw new Error(`hookd created ${published.deliveries} deliveries, expected ${w.deliveries}`);
  await receiver.reset();

  const hookd = await startHookd({ dbPath, role: 'all', concurrency: w.concurrency });
  const receiverBefore = threadCpu(receiver.pid).get(String(receiver.pid)) ?? 0;
  const before = threadCpu(hookd.pid);
  const bytesBefore = writtenBytes(hookd.pid);
  const started = performance.now();
  while ((await receiver.count()).unique < w.deliveries) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - started) / 1000;
  const after = threadCpu(hookd.pid);
  const bytes = writtenBytes(hookd.pid) - bytesBefore;
  const receiverUs = (threadCpu(receiver.pid).get(String(receiver.pid)) ?? 0) - receiverBefore;
  await hookd.stop();

  const perDelivery = (us: number) => (us / w.deliveries).toFixed(1);
  const spent = [...after].map(([tid, us]) => [tid, us - (before.get(tid) ?? 0)] as const);
  const main = spent.find(([tid]) => tid === String(hookd.pid))?.[1] ?? 0;
  const others = spent.filter(([tid]) => tid !== String(hookd.pid)).map(([, us]) => us).sort((a, b) => b - a);
  const sending = others[0] ?? 0;
  const rest = others.slice(1).reduce((sum, us) => sum + us, 0);
  process.stdout.write(
    `drained ${w.deliveries} deliveries in ${seconds.toFixed(1)} s (${Math.round(w.deliveries / seconds)}/s); CPU per delivery: ` +
      `hookd main thread ${perDelivery(main)} µs, sending thread ${perDelivery(sending)} µs, other threads ${perDelivery(rest)} µs, ` +
      `in all ${perDelivery(main + sending + rest)} µs; receiver ${perDelivery(receiverUs)} µs; ` +
      `hookd wrote ${Math.round(bytes / w.deliveries)} bytes to disk per delivery\n`,
  );
} finally {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
