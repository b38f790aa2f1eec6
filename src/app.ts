// Composition root: builds store, router, dispatcher and API from a Config, and takes them down in order.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildServer } from './api/server.ts';
import type { Config } from './config.ts';
import { Alerter } from './delivery/alerts.ts';
import { Dispatcher } from './delivery/dispatcher.ts';
import { Router } from './delivery/router.ts';
import { Sender, type WebhookSender } from './delivery/sender.ts';
import { ThreadedSender } from './delivery/threaded-sender.ts';
import { webhookUrlProblem, type Lookup } from './delivery/ssrf.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Rules } from './rules/index.ts';
import { openStore, type Store } from './store/index.ts';

export interface App {
  config: Config;
  store: Store;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  server: FastifyInstance | undefined;
  dispatcher: Dispatcher | undefined;
  /** Base URL the API listens on, when this process serves it. */
  url: string | undefined;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export function createLogger(config: Pick<Config, 'logLevel'>): FastifyBaseLogger {
  return pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.secret', '*.auth_meta'] }) as FastifyBaseLogger;
}

export interface AppOverrides {
  /** DNS lookup for the SSRF guard (tests simulate rebinding with it; there is no DNS server here). */
  lookup?: Lookup;
}

/**
 * The dispatcher hands the sender up to this many attempts per connection slot; the sender keeps
 * HOOKD_DISPATCH_CONCURRENCY on the wire. With one per slot, a slot freed while the main thread was busy (a batch
 * publish took ~75 ms per 500 events) stayed empty until it was done: ~600 deliveries/s while publishing, on the bench.
 */
const SENDER_HANDOFF = 8;

/**
 * SQLite writes attempt results once this many wait, or SQLITE_FLUSH_DELAY_MS after the first. A write rewrites every
 * page it touches, and a thousand results of a hundred subscribers touch each subscriber's pages in three indexes much
 * as two thousand do: recording cost 9.9–12.7 µs per result in batches of 1 000, 8.0–8.1 in batches of 2 000 and
 * 7.2–7.8 in batches of 4 000 (bench/store-cpu.ts), and 2 000 halve the bytes written per delivery (the WAL, then the
 * checkpoint). Results held longer live through more scavenges, though: at 4 096 the GC helpers gained what the main
 * thread saved. What waits is only the write: the attempt's slot is free as soon as it is answered. A crash re-sends
 * what was answered and not yet written (at-least-once), a quarter of a second's worth at most.
 */
const SQLITE_FLUSH_BATCH = 2048;
const SQLITE_FLUSH_DELAY_MS = 250;

export async function startApp(config: Config, logger: FastifyBaseLogger = createLogger(config), overrides: AppOverrides = {}): Promise<App> {
  const store = await openStore(config);
  const metrics = createMetrics(() => store.queueDepth());
  // A test's stand-in DNS lookup is a function, which cannot cross into the sending thread: it keeps Sender in-process.
  const maxActive = config.dispatchConcurrency;
  const sender: WebhookSender = overrides.lookup
    ? new Sender({ allowPrivateNetworks: config.allowPrivateNetworks, lookup: overrides.lookup, maxActive })
    : new ThreadedSender({ allowPrivateNetworks: config.allowPrivateNetworks, maxActive });
  // Boots while the rest starts, when this process dispatches (an API-only one sends pings alone).
  const senderReady = config.role === 'api' ? undefined : sender.boot?.();
  const alerter = new Alerter(logger, config.smtpUrl);
  const dispatcher =
    config.role === 'api'
      ? undefined
      : new Dispatcher(store, sender, logger, metrics, {
          concurrency: config.dispatchConcurrency,
          handoff: SENDER_HANDOFF,
          leaseMarginMs: config.leaseMarginMs,
          retentionDays: config.retentionDays,
          // SQLite: one process, results in large batches. PostgreSQL: a node killed mid-way leaves its unwritten
          // results to be sent again by the others, so they are written within a few milliseconds.
          flushDelayMs: store.kind === 'postgres' ? 2 : SQLITE_FLUSH_DELAY_MS,
          flushBatch: store.kind === 'postgres' ? undefined : SQLITE_FLUSH_BATCH,
          boundUnwritten: store.kind === 'postgres',
          onBlocked: (subscriber, reason) => void alerter.subscriberBlocked({ subscriber, reason }),
        });
  const rules = new Rules();
  // The store wakes the dispatcher when a publish commits (Store.onWork), not the router.
  const router = new Router(store, rules);

  let server: FastifyInstance | undefined;
  let url: string | undefined;
  if (config.role !== 'dispatcher') {
    server = await buildServer({
      store,
      router,
      rules,
      metrics,
      logger,
      sender,
      publishRateLimit: config.publishRateLimit,
      checkWebhookUrl: config.allowPrivateNetworks ? async () => null : (url) => webhookUrlProblem(url, overrides.lookup),
      wake: (ids) => dispatcher?.wake(ids),
      rescan: () => void dispatcher?.rescan(),
    });
    let host = config.host;
    if ((await store.countActiveApiKeys()) === 0) {
      if (!LOOPBACK_HOSTS.has(host)) host = '127.0.0.1';
      logger.warn(
        { host },
        'OPEN DEVELOPMENT MODE: no API key exists, so requests without a key are accepted, from loopback only. ' +
          'Create a key with `hookd keys create --organization <id>` and restart to listen on HOOKD_HOST.',
      );
    }
    const address = await server.listen({ host, port: config.port });
    url = address;
    logger.info({ url, store: store.kind, role: config.role }, 'hookd is serving');
  }
  if (dispatcher) {
    await senderReady;
    await dispatcher.start();
    logger.info({ store: store.kind, role: config.role, node: dispatcher.nodeId, concurrency: config.dispatchConcurrency }, 'hookd is dispatching');
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await server?.close();
      await dispatcher?.stop(config.shutdownGraceMs);
      await sender.close();
      rules.close();
      alerter.close();
      await store.close();
    })());

  return { config, store, metrics, logger, server, dispatcher, url, close };
}
