// The raw ceiling: every delivery POSTed straight to the receiver with undici at the bench's concurrency, no queue.
import { Pool } from 'undici';
import { deliveriesOf, deliveryBody, now, subscriberPath, type Workload } from './workload.ts';

export interface SendingRun {
  /** Epoch ms of the first request (or job) sent. */
  firstSentAt: Promise<number>;
  /** Resolves when this side has nothing more to do (ceiling: every request answered). */
  done: Promise<void>;
  /** Releases connections and queues. */
  close(): Promise<void>;
}

export function keepAlivePool(origin: string, concurrency: number): Pool {
  return new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000 });
}

export function runCeiling(w: Workload, receiverOrigin: string): SendingRun {
  const pool = keepAlivePool(receiverOrigin, w.concurrency);
  const work = deliveriesOf(w);
  let resolveFirst!: (at: number) => void;
  const firstSentAt = new Promise<number>((resolve) => (resolveFirst = resolve));

  async function lane(): Promise<void> {
    for (let next = work.next(); !next.done; next = work.next()) {
      const [seq, subscriber] = next.value;
      const sentAt = now();
      resolveFirst(sentAt);
      const res = await pool.request({
        path: subscriberPath(subscriber),
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: deliveryBody(w, seq, sentAt),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`ceiling: the receiver answered ${res.statusCode} to ${subscriberPath(subscriber)}`);
    }
  }

  const done = Promise.all(Array.from({ length: w.concurrency }, lane)).then(() => undefined);
  return { firstSentAt, done, close: () => pool.close() };
}
