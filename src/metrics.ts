// Prometheus metrics, one registry per app so that several apps (tests) never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  eventsPublished: Counter<'organization_id'>;
  /** hookd_delivery_attempts_total */
  attempts: AttemptCounts;
  deliveryDuration: Histogram<'outcome'>;
}

/**
 * Attempts by subscriber and outcome, counted in a map and added to hookd_delivery_attempts_total when it is scraped:
 * prom-client hashes and checks the labels at every inc, ~1 µs per attempt on the dispatcher's thread.
 */
export class AttemptCounts {
  /** Subscriber id → [successes, failures] since the last scrape. */
  private counts = new Map<number, [number, number]>();

  count(subscriberId: number, ok: boolean): void {
    let pair = this.counts.get(subscriberId);
    if (!pair) this.counts.set(subscriberId, (pair = [0, 0]));
    pair[ok ? 0 : 1]++;
  }

  /** Adds what was counted since the last call to `counter`. */
  flushInto(counter: Counter<'outcome' | 'subscriber_id'>): void {
    const counts = this.counts;
    this.counts = new Map();
    for (const [id, [successes, failures]] of counts) {
      if (successes > 0) counter.inc({ outcome: 'success', subscriber_id: String(id) }, successes);
      if (failures > 0) counter.inc({ outcome: 'failure', subscriber_id: String(id) }, failures);
    }
  }
}

/** `queueDepth` is read at scrape time, so the gauge is never stale. */
export function createMetrics(queueDepth?: () => Promise<number>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hookd_process_' });
  if (queueDepth) {
    new Gauge({
      name: 'hookd_queue_depth',
      help: 'Deliveries waiting to be sent (PENDING or FAILED) in the whole store.',
      registers: [registry],
      async collect() {
        this.set(await queueDepth());
      },
    });
  }
  const attempts = new AttemptCounts();
  // Per subscriber so an operator can see who fails; bounded by the number of subscribers (never event ids).
  new Counter({
    name: 'hookd_delivery_attempts_total',
    help: 'Delivery attempts made by this process, by outcome and subscriber.',
    labelNames: ['outcome', 'subscriber_id'],
    registers: [registry],
    collect() {
      attempts.flushInto(this);
    },
  });
  return {
    registry,
    eventsPublished: new Counter({
      name: 'hookd_events_published_total',
      help: 'Events accepted by publish (duplicates excluded).',
      labelNames: ['organization_id'],
      registers: [registry],
    }),
    attempts,
    deliveryDuration: new Histogram({
      name: 'hookd_delivery_duration_seconds',
      help: 'Duration of one delivery attempt, from request start to response body read.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
