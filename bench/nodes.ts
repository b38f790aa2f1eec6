// hookd as several processes on one PostgreSQL database (the postgres-2 row): every node is a real hookd child
// process with its own HOOKD_ROLE, the batch publishes are spread over the nodes that serve the API, and receipts
// are counted at the receiver as in every run. The dispatching nodes share the workload's concurrency, so the
// whole cluster has as many requests in flight as every other run.
import pg from 'pg';
import { apiClient, createSubscribers, startHookd, type Hookd, type Role } from './hookd.ts';
import { fmt } from './progress.ts';
import type { ReceiverHandle } from './receiver-client.ts';
import { measured, publishAndReceive, type Measured, type RunSettings } from './runs.ts';
import type { Workload } from './workload.ts';

/**
 * One API node and two dispatchers. In paired runs on the 2-core machine (2026-11-28, 20 000 deliveries, load average
 * 2.5–7 from other work), postgres-2 ÷ postgres had a median of 0.99 for this layout (7 pairs, 0.47–2.34) and 0.95
 * for two HOOKD_ROLE=all nodes (--nodes all,all; 6 pairs, 0.69–1.37): neither scales on two cores, this one a little
 * less badly.
 */
export const DEFAULT_LAYOUT: Role[] = ['api', 'dispatcher', 'dispatcher'];

export interface NodesResult {
  measured: Measured;
  roles: Role[];
  /** HOOKD_DISPATCH_CONCURRENCY of each dispatching node. */
  concurrency_per_node: number;
  /** Delivery attempts each node made (from its /metrics); null for a node that serves no API. */
  attempts_per_node: (number | null)[];
  peak_rss_mb_per_node: number[];
}

/** Reads `--nodes all,all` or `api,dispatcher,dispatcher`: at least one node serves the API, at least one dispatches. */
export function parseLayout(text: string): Role[] {
  const roles = text.split(',').map((r) => r.trim());
  const bad = roles.filter((r) => r !== 'all' && r !== 'api' && r !== 'dispatcher');
  if (bad.length > 0) throw new Error(`--nodes: unknown role ${bad.join(', ')} (roles: all, api, dispatcher)`);
  if (!roles.some((r) => r !== 'dispatcher')) throw new Error('--nodes: at least one node must serve the API (all or api)');
  if (!roles.some((r) => r !== 'api')) throw new Error('--nodes: at least one node must dispatch (all or dispatcher)');
  return roles as Role[];
}

/**
 * A dispatcher-only node logs nothing when it is up: it is taken to be up when its store's LISTEN connection
 * (application_name hookd-listen) is there, i.e. `listeners` of them in all on this database.
 */
async function listenersReach(databaseUrl: string, listeners: number, timeoutMs = 30_000): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const started = Date.now();
    for (;;) {
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hookd-listen'",
      );
      if (Number(rows[0]!.n) >= listeners) return;
      if (Date.now() - started > timeoutMs) throw new Error(`a dispatcher node did not connect within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await client.end();
  }
}

/** Delivery attempts this node made (any outcome), from hookd_delivery_attempts_total on its /metrics. */
async function attemptsOf(hookd: Hookd): Promise<number | null> {
  if (!hookd.url) return null;
  try {
    const res = await fetch(new URL('/metrics', hookd.url));
    const text = await res.text();
    let total = 0;
    for (const m of text.matchAll(/^hookd_delivery_attempts_total\{[^}]*\} (\S+)$/gm)) total += Number(m[1]);
    return total;
  } catch {
    return null;
  }
}

/** The workload on `roles.length` hookd processes sharing the PostgreSQL database at `databaseUrl` (fresh). */
export async function nodesRun(label: string, w: Workload, receiver: ReceiverHandle, settings: RunSettings, databaseUrl: string, roles: Role[]): Promise<NodesResult> {
  const dispatchers = roles.filter((r) => r !== 'api').length;
  const concurrency = Math.max(1, Math.ceil(w.concurrency / dispatchers));
  const nodes: Hookd[] = [];
  try {
    // One after the other: the first applies the migrations (advisory-locked anyway) before the others connect.
    for (const role of roles) {
      const listeners = nodes.length + 1;
      nodes.push(await startHookd({ databaseUrl, role, concurrency, nodeArgs: settings.hookdNodeArgs, ready: () => listenersReach(databaseUrl, listeners) }));
    }
    const apis = nodes.filter((n) => n.url).map((n) => apiClient(n.url));
    try {
      await createSubscribers(apis[0]!, w, (i) => receiver.url(i), settings.maxInFlight);
      await receiver.reset();
      const published = await publishAndReceive(apis, w, receiver, settings, label, nodes.map((n) => n.exited));
      const peaks = nodes.map((n) => n.peakRssMb());
      const attempts = await Promise.all(nodes.map(attemptsOf));
      const stats = await receiver.stats();
      return {
        measured: measured(stats, w.deliveries, published.firstAt, peaks.reduce((a, b) => a + b, 0), label),
        roles,
        concurrency_per_node: concurrency,
        attempts_per_node: attempts,
        peak_rss_mb_per_node: peaks,
      };
    } finally {
      await Promise.all(apis.map((api) => api.close()));
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** One line on the nodes of a run: role, attempts and peak RSS of each. */
export function describeNodes(n: NodesResult): string {
  const perNode = n.roles.map((role, i) => {
    const attempts = n.attempts_per_node[i];
    return `${role} ${attempts === null || attempts === undefined ? '–' : fmt(attempts)} attempts, peak RSS ${fmt(n.peak_rss_mb_per_node[i]!)} MB`;
  });
  return `nodes (HOOKD_DISPATCH_CONCURRENCY=${n.concurrency_per_node} each; the peak RSS above is their sum): ${perNode.join('; ')}`;
}
