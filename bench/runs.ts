// The runs, each on the same workload and concurrency: ceiling and BullMQ (in a driver process), hookd on SQLite
// (a hookd child process), and the optional latency and backlog phases of hookd.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstMessage, forkBench } from './child.ts';
import type { DriverMessage, DriverOptions } from './driver-protocol.ts';
import type { Pool } from 'undici';
import { apiClient, createSubscribers, publishBatches, publishOne, startHookd, type BenchFilter, type Hookd, type Published } from './hookd.ts';
import { fmt, waitForDeliveries } from './progress.ts';
import type { ReceiverHandle } from './receiver-client.ts';
import type { ReceiverStats } from './receiver-protocol.ts';
import { now, type Workload } from './workload.ts';

export interface Measured {
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  peak_rss_mb: number;
  /** From the first publish (or send) to the last receipt. */
  seconds: number;
  receiver: ReceiverStats;
  /** hookd's child processes (its condition sandbox), when it had any: not in peak_rss_mb. */
  children_peak_rss_mb?: number;
  /**
   * CPU time of the sending side's process (every thread) per delivery, µs: hookd's, or the ceiling's or BullMQ's
   * driver (without Redis). Not measured for several hookd processes.
   */
  cpu_us_per_delivery?: number;
}

export interface RunSettings {
  /** Overall time-out of one run, and how long without any new receipt counts as stuck. */
  timeoutMs: number;
  stallMs: number;
  /** Extra node flags for every hookd process (profiling). */
  hookdNodeArgs: string[];
  /** max_in_flight of every bench subscriber. */
  maxInFlight: number;
}

/**
 * Each subscriber may have twice its fair share of the dispatcher's slots in flight, so per-subscriber limits never
 * hold hookd back (when only one slug's F subscribers have work, they can still fill the dispatcher).
 */
export const maxInFlightFor = (w: Workload): number => Math.min(1000, Math.max(1, Math.ceil((2 * w.concurrency) / w.fanout)));

export function measured(stats: ReceiverStats, expected: number, firstAt: number, peakRssMb: number, label: string): Measured {
  if (stats.unique < expected) throw new Error(`${label}: only ${stats.unique}/${expected} deliveries arrived`);
  if (stats.rejected > 0) throw new Error(`${label}: the receiver rejected ${stats.rejected} malformed requests`);
  const seconds = (stats.last_at - firstAt) / 1000;
  return { deliveries_per_s: stats.unique / seconds, p50_ms: stats.p50_ms, p99_ms: stats.p99_ms, peak_rss_mb: peakRssMb, seconds, receiver: stats };
}

export function received(label: string, m: Measured, expected: number): string {
  const r = m.receiver;
  return `  ${label}: ${fmt(r.unique)}/${fmt(expected)} deliveries received, ${fmt(r.duplicates)} duplicates, ` +
    `${r.paths} subscriber paths (${fmt(r.min_per_path)}–${fmt(r.max_per_path)} each), ${m.seconds.toFixed(2)} s`;
}

/** ceiling or bullmq: the sending side runs in its own process so its peak RSS is its own. */
export async function sendingRun(kind: DriverOptions['kind'], w: Workload, receiver: ReceiverHandle, settings: RunSettings): Promise<Measured> {
  await receiver.reset();
  const options: DriverOptions = { kind, workload: w, receiverOrigin: receiver.origin };
  const child = forkBench('driver', [JSON.stringify(options)]);
  let finished = false;
  const failure = new Promise<never>((_, reject) => {
    child.on('message', (m: DriverMessage) => m.type === 'error' && reject(new Error(`${kind}: ${m.message}`)));
    child.on('exit', (code, signal) => !finished && reject(new Error(`${kind}: the sending process exited (${code ?? signal})`)));
  });
  failure.catch(() => {});
  try {
    await waitForDeliveries(receiver, w.deliveries, kind, { timeoutMs: settings.timeoutMs, stallMs: settings.stallMs, failure });
    const done = firstMessage(child, (m): m is Extract<DriverMessage, { type: 'finished' }> => (m as DriverMessage).type === 'finished', kind);
    child.send({ type: 'finish' });
    const result = await Promise.race([done, failure]);
    finished = true;
    return { ...measured(await receiver.stats(), w.deliveries, result.first_sent_at, result.peak_rss_mb, kind), cpu_us_per_delivery: (result.cpu_s * 1e6) / w.deliveries };
  } finally {
    if (!finished) child.kill('SIGKILL');
  }
}

/** A fresh hookd (fresh SQLite file in a temp directory) with the workload's subscribers; `use` runs against it. */
async function withHookd<T>(w: Workload, receiver: ReceiverHandle, settings: RunSettings, role: 'all' | 'api', use: (hookd: Hookd, dir: string) => Promise<T>, dir?: string, databaseUrl?: string): Promise<T> {
  const ownDir = dir === undefined;
  const workDir = dir ?? mkdtempSync(join(tmpdir(), 'hookd-bench-'));
  try {
    const hookd = await startHookd({ dbPath: join(workDir, 'hookd.db'), databaseUrl, role, concurrency: w.concurrency, nodeArgs: settings.hookdNodeArgs });
    try {
      return await use(hookd, workDir);
    } finally {
      await hookd.stop();
    }
  } finally {
    removeWorkDir(workDir, ownDir);
  }
}

/** BENCH_KEEP_DB=1 keeps hookd's SQLite files for inspection. */
function removeWorkDir(dir: string, own: boolean): void {
  if (!own) return;
  if (process.env.BENCH_KEEP_DB) process.stdout.write(`  (kept ${dir})\n`);
  else rmSync(dir, { recursive: true, force: true });
}

/** Creates the subscribers through `api` (by default the batch publishes' client) and returns it. */
async function setUp(hookd: Hookd, w: Workload, receiver: ReceiverHandle, settings: RunSettings, filter?: BenchFilter, api = apiClient(hookd.url)) {
  await createSubscribers(api, w, (i) => receiver.url(i), settings.maxInFlight, filter);
  return api;
}

/** Checks that hookd created as many deliveries as the workload has, and rejects if it did not. */
export const publishFailure = (publishing: Promise<{ deliveries: number }>, expected: number, label: string): Promise<never> =>
  publishing.then((p) => {
    if (p.deliveries !== expected) throw new Error(`${label}: hookd created ${p.deliveries} deliveries, expected ${expected}`);
    return new Promise<never>(() => {});
  });

/**
 * Publishes the whole workload through the batch endpoint of `apis` and waits until the receiver has every delivery;
 * fails early when hookd creates the wrong number of deliveries or a process in `exits` ends.
 */
export async function publishAndReceive(apis: Pool | Pool[], w: Workload, receiver: ReceiverHandle, settings: RunSettings, label: string, exits: Promise<never>[]): Promise<Published> {
  let events = 0;
  const publishing = publishBatches(apis, w, (n) => (events = n));
  const failure = Promise.race([publishFailure(publishing, w.deliveries, label), ...exits]);
  failure.catch(() => {});
  await waitForDeliveries(receiver, w.deliveries, label, {
    timeoutMs: settings.timeoutMs,
    stallMs: settings.stallMs,
    failure,
    extra: () => (events < w.events ? `${fmt(events)} events published` : 'all published'),
  });
  return publishing;
}

export interface HookdRunOptions {
  /** Run hookd on PostgreSQL at this URL instead of a fresh SQLite file. */
  databaseUrl?: string;
  /** Give every subscriber this filter (it must pass every event, or the run fails its delivery count). */
  filter?: BenchFilter;
}

/**
 * hookd on SQLite (or on PostgreSQL at `databaseUrl`): publish the whole workload through the batch endpoint while
 * hookd dispatches it.
 */
export function hookdRun(label: string, w: Workload, receiver: ReceiverHandle, settings: RunSettings, options: HookdRunOptions = {}): Promise<Measured> {
  return withHookd(w, receiver, settings, 'all', async (hookd) => {
    const api = await setUp(hookd, w, receiver, settings, options.filter);
    await receiver.reset();
    const cpuAtStart = hookd.cpuSeconds();
    const published = await publishAndReceive(api, w, receiver, settings, label, [hookd.exited]);
    const cpu = hookd.cpuSeconds() - cpuAtStart;
    const peak = hookd.peakRssMb();
    const children = hookd.childrenPeakRssMb();
    await api.close();
    const m = { ...measured(await receiver.stats(), w.deliveries, published.firstAt, peak, label), cpu_us_per_delivery: (cpu * 1e6) / w.deliveries };
    return children > 0 ? { ...m, children_peak_rss_mb: children } : m;
  }, undefined, options.databaseUrl);
}

export interface LatencyResult {
  target_deliveries_per_s: number;
  events_per_s: number;
  seconds: number;
  deliveries: number;
  p50_ms: number;
  p99_ms: number;
}

/**
 * Connections of the latency phase's publisher. Its publishes are paced by the clock (open loop), so no publish may wait
 * for another's answer: with the four connections of the batch publishes, a run of slow 202s (a publish is answered
 * after its fsync, and syncs took 10–60 ms at times) held the next publishes back in the bench's own pool, and that wait
 * was counted as hookd's latency (2026-12-07: in every late stretch of a run, deliveries were as late as the answers to
 * their publishes). Enough for ~40 publishes in flight at 480 a second with 80 ms answers, with room to spare.
 */
export const LATENCY_CONNECTIONS = 128;

/** A client for paced single-event publishes: as many connections as publishes may be in flight at once. */
export const pacedPublisher = (url: string): Pool => apiClient(url, LATENCY_CONNECTIONS);

/**
 * Publishes single events at `eventsPerSecond` for `seconds`, numbered from `firstSeq`, each when the clock says it
 * is due, whatever became of the ones before; resolves with how many.
 */
export async function publishPaced(api: Pool, w: Workload, eventsPerSecond: number, seconds: number, firstSeq: number): Promise<number> {
  const total = Math.max(1, Math.round(eventsPerSecond * seconds));
  let sent = 0;
  let failed: Error | undefined;
  const pending = new Set<Promise<void>>();
  const started = now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * eventsPerSecond) + 1);
      while (sent < due) {
        const p = publishOne(api, w, firstSeq + sent++).then(
          (n) => void (n !== w.fanout && (failed ??= new Error(`latency: an event made ${n} deliveries, expected ${w.fanout}`))),
          (err: Error) => void (failed ??= err),
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (sent >= total || failed) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  await Promise.all(pending);
  if (failed) throw failed;
  return total;
}

/** Seconds of publishing at the measured rate before measuring: a fresh process compiles and warms its caches first. */
export const LATENCY_WARM_UP_S = 3;

/** hookd on SQLite at a steady rate (single-event publishes paced by a timer): publish→receipt latency. */
export function latencyRun(w: Workload, deliveriesPerSecond: number, seconds: number, receiver: ReceiverHandle, settings: RunSettings): Promise<LatencyResult> {
  return withHookd(w, receiver, settings, 'all', async (hookd) => {
    const api = await setUp(hookd, w, receiver, settings, undefined, pacedPublisher(hookd.url));
    const eventsPerSecond = deliveriesPerSecond / w.fanout;
    // Waited for once the publishing is done: the progress line counts from when it began.
    const wait = (expected: number, since: number) =>
      waitForDeliveries(receiver, expected, 'latency', { timeoutMs: settings.timeoutMs, stallMs: settings.stallMs, failure: hookd.exited, since });
    await receiver.reset();
    const warmUpSince = Date.now();
    const warmUp = await publishPaced(api, w, eventsPerSecond, LATENCY_WARM_UP_S, 0);
    await wait(warmUp * w.fanout, warmUpSince);
    await receiver.reset();
    const since = Date.now();
    const started = now();
    const total = await publishPaced(api, w, eventsPerSecond, seconds, warmUp);
    await wait(total * w.fanout, since);
    await api.close();
    const stats = await receiver.stats();
    return {
      target_deliveries_per_s: deliveriesPerSecond,
      events_per_s: eventsPerSecond,
      seconds: (stats.last_at - started) / 1000,
      deliveries: stats.unique,
      p50_ms: stats.p50_ms,
      p99_ms: stats.p99_ms,
    };
  });
}

export interface BacklogResult {
  deliveries: number;
  publish_seconds: number;
  drain_deliveries_per_s: number;
  drain_seconds: number;
  peak_rss_mb: number;
}

/** Publishes a backlog with the dispatcher off (HOOKD_ROLE=api), then restarts hookd with HOOKD_ROLE=all and drains it. */
export async function backlogRun(base: Workload, deliveries: number, receiver: ReceiverHandle, settings: RunSettings): Promise<BacklogResult> {
  const events = Math.ceil(deliveries / base.fanout);
  const w: Workload = { ...base, events, deliveries: events * base.fanout };
  const dir = mkdtempSync(join(tmpdir(), 'hookd-bench-'));
  try {
    const publishStarted = Date.now();
    await withHookd(w, receiver, settings, 'api', async (hookd) => {
      const api = await setUp(hookd, w, receiver, settings);
      let last = 0;
      const published = await publishBatches(api, w, (n) => {
        if (Date.now() - last < 1000 && n < events) return;
        last = Date.now();
        const text = `  backlog: ${fmt(n)}/${fmt(events)} events published (dispatcher off)`;
        process.stdout.write(process.stdout.isTTY ? `\r${text}` : `${text}\n`);
      });
      if (process.stdout.isTTY) process.stdout.write('\n');
      if (published.deliveries !== w.deliveries) throw new Error(`backlog: hookd created ${published.deliveries} deliveries, expected ${w.deliveries}`);
      await api.close();
    }, dir);
    const publishSeconds = (Date.now() - publishStarted) / 1000;
    await receiver.reset();
    return await withHookd(w, receiver, settings, 'all', async (hookd) => {
      await waitForDeliveries(receiver, w.deliveries, 'backlog drain', { timeoutMs: settings.timeoutMs, stallMs: settings.stallMs, failure: hookd.exited });
      const peak = hookd.peakRssMb();
      const stats = await receiver.stats();
      const drainSeconds = (stats.last_at - hookd.servingAt) / 1000;
      return {
        deliveries: stats.unique,
        publish_seconds: publishSeconds,
        drain_deliveries_per_s: stats.unique / drainSeconds,
        drain_seconds: drainSeconds,
        peak_rss_mb: peak,
      };
    }, dir);
  } finally {
    removeWorkDir(dir, true);
  }
}
