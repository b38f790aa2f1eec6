// A sending run (ceiling or BullMQ) in its own process, so that its peak RSS is its own. Started by runs.ts with
// the run's options as JSON in argv[2]; tells the bench when it fails, and on "finish" closes everything, reports
// its first send time, peak RSS and CPU time, and exits.
import { runBullmq } from './bullmq.ts';
import { runCeiling, type SendingRun } from './ceiling.ts';
import type { DriverMessage, DriverOptions } from './driver-protocol.ts';
import { cpuSeconds, peakRssMb } from './stats.ts';

const cpuAtStart = cpuSeconds(process.pid);
const options = JSON.parse(process.argv[2]!) as DriverOptions;
const send = (message: DriverMessage): void => void process.send!(message);
const fail = (err: unknown): void => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  setTimeout(() => process.exit(1), 100);
};
process.on('disconnect', () => process.exit(0));

try {
  const run: SendingRun =
    options.kind === 'ceiling' ? runCeiling(options.workload, options.receiverOrigin) : await runBullmq(options.workload, options.receiverOrigin);
  run.done.catch(fail);
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'finish') return;
    void (async () => {
      const peak = peakRssMb();
      const cpu = cpuSeconds(process.pid);
      const firstSentAt = await run.firstSentAt;
      await run.close();
      send({ type: 'finished', first_sent_at: firstSentAt, peak_rss_mb: peak, cpu_s: cpu - cpuAtStart });
      process.disconnect();
    })().catch(fail);
  });
  send({ type: 'running' });
} catch (err) {
  fail(err);
}
