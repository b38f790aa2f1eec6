// `npm run bench`: the benchmark harness (DESIGN.md § Targets). Parses flags, runs ceiling, BullMQ, hookd on SQLite
// and on PostgreSQL (a fresh database, when it answers; one hookd process, then two dispatching processes) on one
// workload, prints a table, optionally writes JSON. Opt-in: hookd on SQLite with a filter on every subscriber, and
// the filter evaluation cost.
import { createBenchDatabase, postgresAnswers, POSTGRES_ADMIN_URL } from './postgres.ts';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { redisAnswers } from './bullmq.ts';
import { batchSizesFor, conditionsPerBatchPublish, describeFilterCost, describeFilteredFanout, FANOUT_FILTER, filteredFanoutOf, measureFilterCost, type FilterCost } from './filters.ts';
import { DEFAULT_LAYOUT, describeNodes, nodesRun, parseLayout, type NodesResult } from './nodes.ts';
import { fmt } from './progress.ts';
import { startReceiver } from './receiver-client.ts';
import { DEFAULT_RUNS, FILTER_COST, RUNS, table, writeJson, type Outcome, type RunName } from './report.ts';
import { backlogRun, hookdRun, latencyRun, maxInFlightFor, received, sendingRun, type BacklogResult, type LatencyResult, type Measured, type RunSettings } from './runs.ts';
import { makeWorkload } from './workload.ts';

const USAGE = `npm run bench -- [flags]

  --events N          events to publish (default 20000)
  --subscribers N     subscribers (default 100)
  --fanout N          subscribers each event reaches (default 10; must divide --subscribers)
  --concurrency N     requests in flight, the same for every run (default 64)
  --max-in-flight N   max_in_flight of each hookd subscriber (default ceil(2 × concurrency / fanout))
  --payload-bytes N   size of each event's payload as JSON (default 1024)
  --only LIST         runs to do, comma-separated, from ceiling,bullmq,sqlite,sqlite-filtered,postgres,postgres-2
                      and filter-cost (default ceiling,bullmq,sqlite,postgres,postgres-2)
  --json FILE         write {"workload", "results"} (plus "latency", "backlog", "filters", "nodes" when they ran)
  --filters           also run sqlite-filtered (the sqlite run with a passing filter, $.seq (n) => n >= 0, on every
                      subscriber) and filter-cost (µs per evaluation of (x) => x > 15 on $.price through hookd's
                      Rules.evaluate and sandbox process: one at a time, and amortised in publish-sized batches)
  --filter-seconds N  how long filter-cost samples each of its figures (default 3)
  --nodes ROLES       HOOKD_ROLE of each hookd process of postgres-2 (default api,dispatcher,dispatcher: one API and
                      two dispatchers; or e.g. all,all); the batch publishes go to every node with an API, the
                      dispatchers share --concurrency, the row's peak RSS is the sum over the processes
  --latency           also measure hookd (SQLite) publish→receipt latency at half the sqlite run's rate
  --latency-seconds N how long the latency phase publishes (default 10), after 3 s of warm-up at the same rate
  --latency-rate N    deliveries/s for the latency phase, instead of half the measured sqlite rate
  --backlog N         also publish N deliveries with the dispatcher off, then drain them (rate, peak RSS)
  --timeout S         a run fails after S seconds (default 900), or after 60 s without a new receipt
  --profile DIR       run every hookd process with --cpu-prof, profiles written to DIR

Environment: BENCH_KEEP_DB=1 keeps hookd's SQLite files; BENCH_RECEIVER_DUMP=FILE writes every receipt of the last
phase (sent_at, subscriber, seq, latency) to FILE as CSV.
Exit status: 0 when every run asked for delivered everything, 1 when a run failed, 2 on bad flags.
`;

function integerFlag(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`--${name} must be a positive integer, got "${String(raw)}"`);
  return Number(raw);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      subscribers: { type: 'string' },
      fanout: { type: 'string' },
      concurrency: { type: 'string' },
      'max-in-flight': { type: 'string' },
      'payload-bytes': { type: 'string' },
      only: { type: 'string' },
      json: { type: 'string' },
      latency: { type: 'boolean' },
      'latency-seconds': { type: 'string' },
      'latency-rate': { type: 'string' },
      backlog: { type: 'string' },
      timeout: { type: 'string' },
      profile: { type: 'string' },
      filters: { type: 'boolean' },
      'filter-seconds': { type: 'string' },
      nodes: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const w = makeWorkload(
    integerFlag(values, 'events', 20_000),
    integerFlag(values, 'subscribers', 100),
    integerFlag(values, 'fanout', 10),
    integerFlag(values, 'concurrency', 64),
    integerFlag(values, 'payload-bytes', 1024),
  );
  const names = values.only === undefined ? [...DEFAULT_RUNS] : values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const known: readonly string[] = [...RUNS, FILTER_COST];
  const unknown = names.filter((r) => !known.includes(r));
  if (unknown.length > 0) throw new Error(`--only: unknown run ${unknown.join(', ')} (runs: ${known.join(', ')})`);
  const only = new Set<string>([...names, ...(values.filters ? ['sqlite-filtered', FILTER_COST] : [])]);
  const layout = values.nodes === undefined ? DEFAULT_LAYOUT : parseLayout(values.nodes);
  const filterSeconds = integerFlag(values, 'filter-seconds', 3);
  const settings: RunSettings = {
    timeoutMs: integerFlag(values, 'timeout', 900) * 1000,
    stallMs: 60_000,
    hookdNodeArgs: values.profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)] : [],
    maxInFlight: integerFlag(values, 'max-in-flight', maxInFlightFor(w)),
  };

  process.stdout.write(
    `hookd bench: ${fmt(w.events)} events × fan-out ${w.fanout} = ${fmt(w.deliveries)} deliveries to ${w.subscribers} subscribers, ` +
      `${w.payload_bytes} B payloads, concurrency ${w.concurrency} (hookd: HOOKD_DISPATCH_CONCURRENCY=${w.concurrency}, ` +
      `max_in_flight=${settings.maxInFlight} per subscriber)\n` +
      `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version}, ` +
      `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}\n\n`,
  );

  const receiver = await startReceiver();
  const outcomes = new Map<RunName, Outcome>();
  const skip = (name: RunName, reason: string) => {
    outcomes.set(name, { skipped: reason });
    process.stdout.write(`${name}: skipped (${reason})\n\n`);
  };
  /** Runs one row; `note` is printed under its header line, `after` (more lines about it) under its figures. */
  const attempt = async (name: RunName, run: () => Promise<Measured>, note?: string, after?: () => string) => {
    process.stdout.write(`${name}: (load average ${loadavg()[0]!.toFixed(2)})\n${note ? `  ${note}\n` : ''}`);
    try {
      const m = await run();
      outcomes.set(name, { measured: m });
      process.stdout.write(`${received(name, m, w.deliveries)}\n`);
      process.stdout.write(`  ${name}: ${fmt(m.deliveries_per_s)} deliveries/s, p50 ${fmt(m.p50_ms, 1)} ms, p99 ${fmt(m.p99_ms, 1)} ms, peak RSS ${fmt(m.peak_rss_mb)} MB\n`);
      process.stdout.write(`${after ? `  ${after()}\n` : ''}\n`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      outcomes.set(name, { failed: message });
      process.stderr.write(`${name}: FAILED: ${message}\n\n`);
    }
  };

  let nodes: NodesResult | undefined;
  const onPostgres = async (name: RunName, run: (url: string) => Promise<Measured>, note?: string, after?: () => string) => {
    if (!(await postgresAnswers())) return skip(name, `PostgreSQL does not answer at ${POSTGRES_ADMIN_URL}`);
    const db = await createBenchDatabase();
    try {
      await attempt(name, () => run(db.url), note, after);
    } finally {
      await db.drop();
    }
  };

  try {
    for (const name of RUNS) {
      if (!only.has(name)) continue;
      if (name === 'ceiling') await attempt(name, () => sendingRun('ceiling', w, receiver, settings));
      else if (name === 'bullmq') {
        if (await redisAnswers()) await attempt(name, () => sendingRun('bullmq', w, receiver, settings));
        else skip(name, 'Redis does not answer on 127.0.0.1:6379');
      } else if (name === 'sqlite') await attempt(name, () => hookdRun(name, w, receiver, settings));
      else if (name === 'sqlite-filtered') {
        let sandboxMb: number | undefined;
        await attempt(
          name,
          async () => {
            const m = await hookdRun(name, w, receiver, settings, { filter: FANOUT_FILTER });
            sandboxMb = m.children_peak_rss_mb;
            return m;
          },
          `every subscriber filters with ${FANOUT_FILTER.condition} on ${FANOUT_FILTER.query} (passes every event); ${fmt(conditionsPerBatchPublish(w))} conditions per batch publish`,
          () => `${name}: hookd's condition sandbox process peak RSS ${sandboxMb === undefined ? '–' : fmt(sandboxMb)} MB (not in the table's figure)`,
        );
      } else if (name === 'postgres') await onPostgres(name, (url) => hookdRun(name, w, receiver, settings, { databaseUrl: url }));
      else {
        await onPostgres(
          name,
          async (url) => (nodes = await nodesRun(name, w, receiver, settings, url, layout)).measured,
          `${layout.length} hookd processes on one database, HOOKD_ROLE ${layout.join(', ')}; batch publishes spread over the API nodes`,
          () => describeNodes(nodes!),
        );
      }
    }

    const filteredFanout = filteredFanoutOf(outcomes, w);

    let filterCost: FilterCost | undefined;
    let extraFailed = false;
    if (only.has(FILTER_COST)) {
      process.stdout.write(`filter-cost: (load average ${loadavg()[0]!.toFixed(2)}) ${filterSeconds} s per figure\n`);
      try {
        filterCost = await measureFilterCost(batchSizesFor(w.fanout), filterSeconds);
        process.stdout.write(`${describeFilterCost(filterCost)}\n\n`);
      } catch (err) {
        process.stderr.write(`filter-cost: FAILED: ${err instanceof Error ? err.message : String(err)}\n\n`);
        extraFailed = true;
      }
    }

    let latency: LatencyResult | undefined;
    let backlog: BacklogResult | undefined;
    if (values.latency) {
      const sqlite = outcomes.get('sqlite');
      const rate = values['latency-rate'] !== undefined
        ? integerFlag(values, 'latency-rate', 0)
        : sqlite && 'measured' in sqlite ? sqlite.measured.deliveries_per_s / 2 : undefined;
      if (rate === undefined) {
        process.stderr.write('latency: FAILED: needs the sqlite run (for its peak rate) or --latency-rate\n\n');
        extraFailed = true;
      } else {
        process.stdout.write(`latency: hookd (SQLite) at ${fmt(rate)} deliveries/s (${fmt(rate / w.fanout, 1)} single-event publishes/s)\n`);
        try {
          latency = await latencyRun(w, rate, integerFlag(values, 'latency-seconds', 10), receiver, settings);
          process.stdout.write(`  latency: ${fmt(latency.deliveries)} deliveries in ${latency.seconds.toFixed(1)} s, p50 ${fmt(latency.p50_ms, 1)} ms, p99 ${fmt(latency.p99_ms, 1)} ms\n\n`);
        } catch (err) {
          process.stderr.write(`latency: FAILED: ${err instanceof Error ? err.message : String(err)}\n\n`);
          extraFailed = true;
        }
      }
    }
    if (values.backlog !== undefined) {
      const n = integerFlag(values, 'backlog', 0);
      process.stdout.write(`backlog: ${fmt(n)} deliveries published with the dispatcher off (HOOKD_ROLE=api), then drained (HOOKD_ROLE=all)\n`);
      try {
        backlog = await backlogRun(w, n, receiver, settings);
        process.stdout.write(
          `  backlog: ${fmt(backlog.deliveries)} deliveries published in ${backlog.publish_seconds.toFixed(1)} s, drained in ${backlog.drain_seconds.toFixed(1)} s ` +
            `= ${fmt(backlog.drain_deliveries_per_s)} deliveries/s, hookd peak RSS ${fmt(backlog.peak_rss_mb)} MB\n\n`,
        );
      } catch (err) {
        process.stderr.write(`backlog: FAILED: ${err instanceof Error ? err.message : String(err)}\n\n`);
        extraFailed = true;
      }
    }

    process.stdout.write(`${table(outcomes)}\n`);
    if (latency) process.stdout.write(`\nlatency at ${fmt(latency.target_deliveries_per_s)} deliveries/s: p50 ${fmt(latency.p50_ms, 1)} ms, p99 ${fmt(latency.p99_ms, 1)} ms\n`);
    if (backlog) process.stdout.write(`backlog of ${fmt(backlog.deliveries)}: drained at ${fmt(backlog.drain_deliveries_per_s)} deliveries/s, hookd peak RSS ${fmt(backlog.peak_rss_mb)} MB\n`);
    if (filteredFanout) process.stdout.write(`\n${describeFilteredFanout(filteredFanout)}\n`);
    if (filterCost) process.stdout.write(`\n${describeFilterCost(filterCost)}\n`);
    if (values.json) {
      writeJson(values.json, w, outcomes, { latency, backlog, filterCost, filteredFanout, nodes });
      process.stdout.write(`\nwrote ${values.json}\n`);
    }
    const failed = [...outcomes.values()].some((o) => 'failed' in o) || extraFailed;
    return failed ? 1 : 0;
  } finally {
    await receiver.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exit(2);
  },
);
