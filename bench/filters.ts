// Filter evaluation cost (DESIGN.md § Targets: < 20 µs median for a compiled condition on a small value), measured
// through the code publish uses: Rules.evaluate selects each JSONPath value in this process, sends the whole batch
// to a real condition sandbox process in one IPC round trip, runs each condition in its V8 isolate and combines the
// answers here. Three figures, each a median and p99 over many samples:
//   isolate  one ConditionSandbox.run in this process, timed call by call: the isolate alone (no IPC, no JSONPath)
//   single   Rules.evaluate of 1 condition (a publish of one event to one filtered subscriber): one full round trip
//   batch K  Rules.evaluate of K conditions (a publish of N events × F filtered subscribers), batch time ÷ K
import { BATCH_SIZE, type BenchFilter } from './hookd.ts';
import { fmt } from './progress.ts';
import type { Outcome, RunName } from './report.ts';
import { percentile, round } from './stats.ts';
import type { Workload } from './workload.ts';

/** The condition whose cost is measured: a number from $.price. */
export const COST_FILTER: BenchFilter = { query: '$.price', condition: '(x) => x > 15' };
/** Every subscriber's filter in the sqlite-filtered run: it passes every event, so the delivery count is unchanged. */
export const FANOUT_FILTER: BenchFilter = { query: '$.seq', condition: '(n) => n >= 0' };

export interface CostFigures {
  samples: number;
  median_us: number;
  p99_us: number;
}

export interface BatchFigures extends CostFigures {
  /** K: conditions sent to the sandbox in one Rules.evaluate; median_us and p99_us are per condition (batch ÷ K). */
  conditions_per_batch: number;
  median_batch_ms: number;
}

export interface FilterCost {
  query: string;
  condition: string;
  isolate: CostFigures;
  single: CostFigures;
  batches: BatchFigures[];
}

const payloadOf = (i: number) => ({ order_id: i, price: i % 30 });
const expected = (i: number) => i % 30 > 15;

const figures = (samples: number[]): CostFigures => {
  const sorted = Float64Array.from(samples).sort();
  return { samples: sorted.length, median_us: percentile(sorted, 50), p99_us: percentile(sorted, 99) };
};

const microseconds = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1000;

/**
 * Calls `once` (which returns one sample) for a fifth of `seconds` to warm up, then collects samples for `seconds`
 * (at least `min`, at most `max` of them).
 */
async function collect(seconds: number, min: number, max: number, once: () => number | Promise<number>): Promise<number[]> {
  const warmUntil = Date.now() + (seconds * 1000) / 5;
  while (Date.now() < warmUntil) await once();
  const samples: number[] = [];
  const until = Date.now() + seconds * 1000;
  while (samples.length < max && (samples.length < min || Date.now() < until)) samples.push(await once());
  return samples;
}

/**
 * Batch sizes that publish produces on this workload: one event to its F subscribers (a single-event publish), and
 * one batch publish of BATCH_SIZE events × F (what the bench's hookd runs send).
 */
export const batchSizesFor = (fanout: number): number[] => [...new Set([fanout, BATCH_SIZE * fanout])].filter((k) => k > 1);

/** Measures COST_FILTER for `seconds` per figure. */
export async function measureFilterCost(batchSizes: number[], seconds: number): Promise<FilterCost> {
  // Loaded here, not at the top: they bring isolated-vm into the bench process, which only this measurement needs.
  const { Rules } = await import('../src/rules/index.ts');
  const { ConditionSandbox } = await import('../src/rules/sandbox.ts');

  const sandbox = new ConditionSandbox();
  let n = 0;
  const isolate = await collect(seconds, 1000, 500_000, () => {
    const i = n++;
    const started = process.hrtime.bigint();
    const pass = sandbox.run(COST_FILTER.condition, payloadOf(i).price);
    const us = microseconds(started);
    if (pass !== expected(i)) throw new Error(`filter cost: the isolate answered ${pass} for price ${payloadOf(i).price}`);
    return us;
  });
  sandbox.dispose();

  const rules = new Rules();
  try {
    // Compiled once, as hookd does when a subscriber is saved (this also starts the sandbox process).
    const filter = await rules.validateFilter(COST_FILTER);
    const evaluate = async (from: number, count: number): Promise<number> => {
      const items = Array.from({ length: count }, (_, k) => ({ filter, payload: payloadOf(from + k) }));
      const started = process.hrtime.bigint();
      const outcomes = await rules.evaluate(items);
      const us = microseconds(started);
      outcomes.forEach((o, k) => {
        if (!o.ok || o.pass !== expected(from + k)) throw new Error(`filter cost: unexpected outcome ${JSON.stringify(o)} for price ${payloadOf(from + k).price}`);
      });
      return us;
    };
    n = 0;
    const single = await collect(seconds, 200, 200_000, () => evaluate(n++, 1));
    const batches: BatchFigures[] = [];
    for (const k of batchSizes) {
      n = 0;
      const perBatch = await collect(seconds, 10, 100_000, async () => evaluate((n++ * k) % 30, k));
      batches.push({
        conditions_per_batch: k,
        ...figures(perBatch.map((us) => us / k)),
        median_batch_ms: figures(perBatch).median_us / 1000,
      });
    }
    return { ...COST_FILTER, isolate: figures(isolate), single: figures(single), batches };
  } finally {
    rules.close();
  }
}

/** The printed summary, one line per figure. */
export function describeFilterCost(cost: FilterCost): string {
  const us = (f: CostFigures) => `median ${fmt(f.median_us, 2)} µs, p99 ${fmt(f.p99_us, 2)} µs (${fmt(f.samples)} samples)`;
  return [
    `filter cost of ${cost.condition} on ${cost.query} (a number):`,
    `  in the isolate, per call (no IPC):              ${us(cost.isolate)}`,
    `  one condition per Rules.evaluate (round trip):  ${us(cost.single)}`,
    ...cost.batches.map(
      (b) => `  per condition in batches of ${String(b.conditions_per_batch).padEnd(5)}(amortised): ${us(b)}, median batch ${fmt(b.median_batch_ms, 2)} ms`,
    ),
  ].join('\n');
}

export const roundFilterCost = (cost: FilterCost): FilterCost => {
  const r = <T extends CostFigures>(f: T): T => ({ ...f, median_us: round(f.median_us, 2), p99_us: round(f.p99_us, 2) });
  return { ...cost, isolate: r(cost.isolate), single: r(cost.single), batches: cost.batches.map((b) => ({ ...r(b), median_batch_ms: round(b.median_batch_ms, 3) })) };
};

/** Conditions hookd evaluates in one sandbox batch for one of the bench's batch publishes (every subscriber filtered). */
export const conditionsPerBatchPublish = (w: Workload): number => Math.min(BATCH_SIZE, w.events) * w.fanout;

export interface FilteredFanout {
  subscribers: number;
  fanout: number;
  filter: BenchFilter;
  conditions_per_batch_publish: number;
  deliveries_per_s: number;
  /** sqlite-filtered ÷ sqlite, when both ran. */
  ratio_to_sqlite: number | null;
  /** hookd's condition sandbox process, not counted in the row's peak RSS. */
  sandbox_peak_rss_mb: number | null;
}

/** What the sqlite-filtered run shows, when it ran: its rate against the unfiltered sqlite run's. */
export function filteredFanoutOf(outcomes: Map<RunName, Outcome>, w: Workload): FilteredFanout | undefined {
  const filtered = outcomes.get('sqlite-filtered');
  if (!filtered || !('measured' in filtered)) return undefined;
  const plain = outcomes.get('sqlite');
  const m = filtered.measured;
  return {
    subscribers: w.subscribers,
    fanout: w.fanout,
    filter: FANOUT_FILTER,
    conditions_per_batch_publish: conditionsPerBatchPublish(w),
    deliveries_per_s: round(m.deliveries_per_s, 1),
    ratio_to_sqlite: plain && 'measured' in plain ? round(m.deliveries_per_s / plain.measured.deliveries_per_s, 3) : null,
    sandbox_peak_rss_mb: m.children_peak_rss_mb === undefined ? null : round(m.children_peak_rss_mb, 1),
  };
}

export const describeFilteredFanout = (f: FilteredFanout): string =>
  `sqlite-filtered (${f.subscribers} subscribers filtered, fan-out ${f.fanout}, ${fmt(f.conditions_per_batch_publish)} conditions per batch publish): ` +
  `${fmt(f.deliveries_per_s)} deliveries/s` +
  (f.ratio_to_sqlite === null ? ' (sqlite did not run: no ratio)' : `, ${f.ratio_to_sqlite.toFixed(2)} × the unfiltered sqlite run`);
