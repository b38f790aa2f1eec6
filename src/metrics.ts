// Prometheus metrics, one registry per app so that several apps (tests) never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  eventsPublished: Counter<'organization_id'>;
  attempts: Counter<'outcome' | 'subscriber_id'>;
  deliveryDuration: Histogram<'outcome'>;
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
  return {
    registry,
    eventsPublished: new Counter({
      name: 'hookd_events_published_total',
      help: 'Events accepted by publish (duplicates excluded).',
      labelNames: ['organization_id'],
      registers: [registry],
    }),
    // Per subscriber so an operator can see who fails; bounded by the number of subscribers (never event ids).
    attempts: new Counter({
      name: 'hookd_delivery_attempts_total',
      help: 'Delivery attempts made by this process, by outcome and subscriber.',
      labelNames: ['outcome', 'subscriber_id'],
      registers: [registry],
    }),
    deliveryDuration: new Histogram({
      name: 'hookd_delivery_duration_seconds',
      help: 'Duration of one delivery attempt, from request start to response body read.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
