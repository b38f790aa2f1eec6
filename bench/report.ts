// Results: ratios, the printed table, and the --json file.
import { writeFileSync } from 'node:fs';
import { fmt } from './progress.ts';
import { roundFilterCost, type FilterCost, type FilteredFanout } from './filters.ts';
import type { NodesResult } from './nodes.ts';
import type { BacklogResult, LatencyResult, Measured } from './runs.ts';
import { round } from './stats.ts';
import type { Workload } from './workload.ts';

/** Every run, in the order they run. */
export const RUNS = ['ceiling', 'bullmq', 'sqlite', 'sqlite-filtered', 'postgres', 'postgres-2'] as const;
export type RunName = (typeof RUNS)[number];
/** What `npm run bench` runs without --only: DESIGN.md's four, then the two-process row. */
export const DEFAULT_RUNS: readonly RunName[] = ['ceiling', 'bullmq', 'sqlite', 'postgres', 'postgres-2'];
/** --only may also name the filter cost measurement, which is not a row of the table. */
export const FILTER_COST = 'filter-cost';

export type Outcome = { measured: Measured } | { skipped: string } | { failed: string };

export interface JsonResult {
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  peak_rss_mb: number;
  ratio_to_ceiling: number | null;
  ratio_to_bullmq: number | null;
  /** The sending side's CPU time per delivery (Measured.cpu_us_per_delivery); null when not measured. */
  cpu_us_per_delivery: number | null;
}

const rate = (o: Outcome | undefined): number | undefined => (o && 'measured' in o ? o.measured.deliveries_per_s : undefined);

/** The JSON form of every run: measured → its figures (a ratio is null when its reference did not run). */
export function jsonResults(outcomes: Map<RunName, Outcome>): Record<string, JsonResult | { skipped: string } | { failed: string }> {
  const ceiling = rate(outcomes.get('ceiling'));
  const bullmq = rate(outcomes.get('bullmq'));
  const results: Record<string, JsonResult | { skipped: string } | { failed: string }> = {};
  for (const [name, outcome] of outcomes) {
    if (!('measured' in outcome)) {
      results[name] = outcome;
      continue;
    }
    const m = outcome.measured;
    results[name] = {
      deliveries_per_s: round(m.deliveries_per_s, 1),
      p50_ms: round(m.p50_ms, 2),
      p99_ms: round(m.p99_ms, 2),
      peak_rss_mb: round(m.peak_rss_mb, 1),
      ratio_to_ceiling: ceiling ? round(m.deliveries_per_s / ceiling, 3) : null,
      ratio_to_bullmq: bullmq ? round(m.deliveries_per_s / bullmq, 3) : null,
      cpu_us_per_delivery: m.cpu_us_per_delivery === undefined || Number.isNaN(m.cpu_us_per_delivery) ? null : round(m.cpu_us_per_delivery, 1),
    };
  }
  return results;
}

export function table(outcomes: Map<RunName, Outcome>): string {
  const results = jsonResults(outcomes);
  const header = ['run', 'deliveries/s', 'p50 ms', 'p99 ms', 'peak RSS MB', '÷ ceiling', '÷ BullMQ', 'CPU µs/delivery'];
  const rows: string[][] = [];
  for (const [name, r] of Object.entries(results)) {
    if ('skipped' in r) rows.push([name, `skipped: ${r.skipped}`]);
    else if ('failed' in r) rows.push([name, `FAILED: ${r.failed.split('\n')[0]!}`]);
    else {
      const ratio = (x: number | null) => (x === null ? '–' : x.toFixed(2));
      rows.push([name, fmt(r.deliveries_per_s), fmt(r.p50_ms, 1), fmt(r.p99_ms, 1), fmt(r.peak_rss_mb, 0), ratio(r.ratio_to_ceiling), ratio(r.ratio_to_bullmq), r.cpu_us_per_delivery === null ? '–' : fmt(r.cpu_us_per_delivery, 0)]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 2).map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.length === 2
      ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}`
      : cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Extras {
  latency?: LatencyResult;
  backlog?: BacklogResult;
  filterCost?: FilterCost;
  filteredFanout?: FilteredFanout;
  nodes?: NodesResult;
}

export function writeJson(file: string, workload: Workload, outcomes: Map<RunName, Outcome>, extra: Extras): void {
  const doc: Record<string, unknown> = { workload, results: jsonResults(outcomes) };
  if (extra.latency) doc.latency = roundAll(extra.latency);
  if (extra.backlog) doc.backlog = roundAll(extra.backlog);
  if (extra.filterCost || extra.filteredFanout) {
    doc.filters = {
      ...(extra.filterCost ? { evaluation: roundFilterCost(extra.filterCost) } : {}),
      ...(extra.filteredFanout ? { fanout: extra.filteredFanout } : {}),
    };
  }
  if (extra.nodes) {
    const { measured: _, ...nodes } = extra.nodes;
    doc.nodes = { 'postgres-2': { ...nodes, peak_rss_mb_per_node: nodes.peak_rss_mb_per_node.map((mb) => round(mb, 1)) } };
  }
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}

const roundAll = <T extends object>(o: T): Record<string, number> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v as number, 2)]));
