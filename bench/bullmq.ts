// The BullMQ baseline: one job per delivery (added in bulk), a Worker at the bench's concurrency that POSTs each
// job's body to the receiver with undici. What a Node team would build instead of hookd.
import { connect } from 'node:net';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { keepAlivePool, type SendingRun } from './ceiling.ts';
import { deliveriesOf, deliveryBody, now, subscriberPath, type Workload } from './workload.ts';

export const REDIS = { host: '127.0.0.1', port: 6379 };
const ADD_CHUNK = 1000;
const ADDS_IN_FLIGHT = 4;

/** hookd's default retry policy, as BullMQ options; completed jobs are dropped as a production queue would. */
const JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: true,
  removeOnFail: 10_000,
};

interface DeliveryJob {
  path: string;
  body: string;
}

/** True when something accepts a TCP connection on 127.0.0.1:6379 within `timeoutMs`. */
export function redisAnswers(timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(REDIS);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function runBullmq(w: Workload, receiverOrigin: string): Promise<SendingRun> {
  const connection = { ...REDIS, maxRetriesPerRequest: null };
  const name = `hookd-bench-${process.pid}-${Date.now().toString(36)}`;
  const queue = new Queue<DeliveryJob>(name, { connection });
  await queue.obliterate({ force: true });
  const pool = keepAlivePool(receiverOrigin, w.concurrency);
  const worker = new Worker<DeliveryJob>(
    name,
    async (job) => {
      const res = await pool.request({ path: job.data.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: job.data.body });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
    },
    { connection, concurrency: w.concurrency },
  );
  // A failed attempt or a worker error ends the run: the receiver only ever answers 200.
  const failed = new Promise<never>((_, reject) => {
    worker.on('failed', (job, err) => reject(new Error(`bullmq: job ${job?.id} failed: ${err.message}`)));
    worker.on('error', (err) => reject(new Error(`bullmq: worker error: ${err.message}`)));
  });
  failed.catch(() => {});
  await worker.waitUntilReady();

  let first = 0;
  const work = deliveriesOf(w);
  async function adder(): Promise<void> {
    for (;;) {
      const sentAt = now();
      const jobs: { name: string; data: DeliveryJob; opts: JobsOptions }[] = [];
      while (jobs.length < ADD_CHUNK) {
        const next = work.next();
        if (next.done) break;
        const [seq, subscriber] = next.value;
        jobs.push({ name: 'deliver', data: { path: subscriberPath(subscriber), body: deliveryBody(w, seq, sentAt) }, opts: JOB_OPTIONS });
      }
      if (jobs.length === 0) return;
      first ||= sentAt;
      await queue.addBulk(jobs);
    }
  }
  const adding = Promise.all(Array.from({ length: ADDS_IN_FLIGHT }, adder));
  return {
    firstSentAt: adding.then(() => first),
    // Never resolves by itself: the worker keeps running until the bench has counted every delivery.
    done: Promise.race([failed, adding.then(() => failed)]),
    async close() {
      await worker.close(true);
      await queue.obliterate({ force: true });
      await queue.close();
      await pool.close();
    },
  };
}
