// The real hookd in a child process (`node bin/hookd.js serve`), and the HTTP API calls the bench makes to it:
// create subscribers (optionally with a filter), publish events in batches (to one node or several) or one at a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import { REPO_ROOT, stopChild } from './child.ts';
import { childrenPeakRssMb, cpuSeconds, peakRssMb } from './stats.ts';
import { groups, now, payloadOf, slugOf, type Workload } from './workload.ts';

const BIN = join(REPO_ROOT, 'bin', 'hookd.js');
export const TENANT_PATH = '/service/partner/webhook/v1.0/organization/bench/extension/bench';
/** Events per batch publish: also the number of events whose filters hookd evaluates in one sandbox batch. */
export const BATCH_SIZE = 500;
const BATCHES_IN_FLIGHT = 4;

export type Role = 'all' | 'api' | 'dispatcher';

export interface HookdOptions {
  /** The SQLite file, when databaseUrl is not given. */
  dbPath?: string;
  /** A postgres:// URL to run hookd on PostgreSQL instead of the SQLite file at dbPath. */
  databaseUrl?: string;
  role: Role;
  /**
   * HOOKD_ROLE=dispatcher serves no API and logs no "hookd is serving": this tells when such a node is up. Without
   * it, a dispatcher counts as up once its process has started.
   */
  ready?: () => Promise<void>;
  concurrency: number;
  /** Extra node flags for the hookd process (e.g. --cpu-prof --cpu-prof-dir DIR). */
  nodeArgs?: string[];
}

export interface Hookd {
  /** The API's URL; empty for HOOKD_ROLE=dispatcher. */
  url: string;
  pid: number;
  /** Epoch ms when hookd logged that it serves. */
  servingAt: number;
  /** Rejects if the process exits before stop() is called. */
  exited: Promise<never>;
  peakRssMb(): number;
  /** CPU time hookd's process has used so far (every thread), seconds. */
  cpuSeconds(): number;
  /** Peak RSS of hookd's live child processes (the condition sandbox, once a filter made hookd start it). */
  childrenPeakRssMb(): number;
  stop(): Promise<void>;
}

export async function startHookd(options: HookdOptions, timeoutMs = 30_000): Promise<Hookd> {
  // Only the settings below: nothing from the caller's own HOOKD_* environment leaks in.
  const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOOKD_')));
  Object.assign(env, {
    HOOKD_PORT: '0',
    HOOKD_DATABASE_URL: options.databaseUrl ?? `sqlite:${options.dbPath ?? ''}`,
    HOOKD_ALLOW_PRIVATE_NETWORKS: 'true',
    // "hookd is serving" (which carries the URL) is an info line; request logging is off, so info costs nothing more.
    HOOKD_LOG_LEVEL: 'info',
    HOOKD_ROLE: options.role,
    HOOKD_DISPATCH_CONCURRENCY: String(options.concurrency),
    // The bench publishes far above the default per-organization limit of 5000 events/s.
    HOOKD_PUBLISH_RATE_LIMIT: '0',
  });
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, 'serve'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  let stopping = false;
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => {
      if (!stopping) reject(new Error(`hookd exited (${code ?? signal}) unexpectedly; its last output:\n${tail.join('\n')}`));
    });
  });
  exited.catch(() => {});

  let servingAt = 0;
  const started = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hookd did not start within ${timeoutMs} ms:\n${tail.join('\n')}`)), timeoutMs);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        keep(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string; level?: number };
          if (entry.msg === 'hookd is serving' && entry.url && options.role !== 'dispatcher') {
            clearTimeout(timer);
            servingAt = now();
            resolve(entry.url);
          } else if ((entry.level ?? 0) >= 50) process.stderr.write(`hookd: ${line}\n`);
        } catch {
          // not a log line (a stack trace, a warning from node): already kept for the error report
        }
      }
    });
    let errBuffered = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      errBuffered += chunk.toString();
      for (let nl = errBuffered.indexOf('\n'); nl >= 0; nl = errBuffered.indexOf('\n')) {
        keep(errBuffered.slice(0, nl));
        errBuffered = errBuffered.slice(nl + 1);
      }
    });
    exited.catch((err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    if (options.role === 'dispatcher') {
      (options.ready?.() ?? Promise.resolve()).then(() => {
        clearTimeout(timer);
        servingAt = now();
        resolve('');
      }, reject);
    }
  });
  // A hookd that did not come up is not left running.
  const url = await started.catch((err: unknown) => {
    stopping = true;
    child.kill('SIGKILL');
    throw err;
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    servingAt,
    exited,
    peakRssMb: () => peakRssMb(pid),
    cpuSeconds: () => cpuSeconds(pid),
    childrenPeakRssMb: () => childrenPeakRssMb(pid),
    stop: () => {
      stopping = true;
      return stopChild(child, 30_000);
    },
  };
}

/** A keep-alive client for hookd's API. */
export function apiClient(url: string, connections = BATCHES_IN_FLIGHT): Pool {
  return new Pool(url, { connections, keepAliveTimeout: 60_000 });
}

async function call(api: Pool, method: 'POST', path: string, body: unknown, expected: number): Promise<unknown> {
  const res = await api.request({ method, path: TENANT_PATH + path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== expected) throw new Error(`hookd: ${method} ${path} answered ${res.statusCode}, expected ${expected}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

export interface BenchFilter {
  query: string;
  condition: string;
}

/**
 * Subscriber i gets webhook <receiver>/s/<i> and the one slug company/bench/e<i mod groups>/v1, so each event
 * reaches `fanout` subscribers; with `filter`, that slug carries the filter. Retry policy: hookd's defaults.
 */
export async function createSubscribers(api: Pool, w: Workload, webhookUrl: (i: number) => string, maxInFlight: number, filter?: BenchFilter): Promise<void> {
  const g = groups(w);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < w.subscribers; i = next++) {
      await call(api, 'POST', '/subscriber', {
        name: `bench-${i}`,
        webhook_url: webhookUrl(i),
        association: { company_id: 1, criteria: 'ALL' },
        events: [filter ? { slug: slugOf(i % g), filters: filter } : { slug: slugOf(i % g) }],
        max_in_flight: maxInFlight,
      }, 201);
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
}

const eventOf = (w: Workload, seq: number, sentAt: number) => ({ event_slug: slugOf(seq % groups(w)), payload: payloadOf(w, seq, sentAt) });

export interface Published {
  /** Epoch ms of the first publish request. */
  firstAt: number;
  /** Deliveries hookd said it created. */
  deliveries: number;
}

/**
 * Publishes events 0..w.events-1 through the batch endpoint, 500 per request, a few requests in flight; given several
 * API clients (one per hookd node), the requests in flight are spread evenly over them.
 */
export async function publishBatches(apis: Pool | Pool[], w: Workload, onProgress?: (events: number) => void): Promise<Published> {
  const clients = Array.isArray(apis) ? apis : [apis];
  let nextSeq = 0;
  let firstAt = 0;
  let deliveries = 0;
  let published = 0;
  const lane = async (api: Pool) => {
    while (nextSeq < w.events) {
      const from = nextSeq;
      const to = Math.min(w.events, from + BATCH_SIZE);
      nextSeq = to;
      const sentAt = now();
      firstAt ||= sentAt;
      const events = [];
      for (let seq = from; seq < to; seq++) events.push(eventOf(w, seq, sentAt));
      const reply = (await call(api, 'POST', '/company/1/event/batch', { events }, 202)) as { items: { deliveries: number }[] };
      for (const item of reply.items) deliveries += item.deliveries;
      published += to - from;
      onProgress?.(published);
    }
  };
  const lanes = Math.max(BATCHES_IN_FLIGHT, clients.length);
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(clients[i % clients.length]!)));
  return { firstAt, deliveries };
}

/** Publishes one event (single-event endpoint) stamped with the time of the call; resolves with its deliveries. */
export async function publishOne(api: Pool, w: Workload, seq: number): Promise<number> {
  const reply = (await call(api, 'POST', '/company/1/event', eventOf(w, seq, now()), 202)) as { deliveries: number };
  return reply.deliveries;
}
