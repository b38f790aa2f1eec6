// The benchmark harness runs end to end on a tiny workload (no timing assertion: figures are for `npm run bench`).
import { postgresAnswers } from '../../bench/postgres.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hookd-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const redisAnswers = () =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

function bench(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** CI starts PostgreSQL, so there a run that does not reach it is a failure, not a skip. */
const withPostgres = (await postgresAnswers()) || process.env.CI === 'true';

const FIGURES = ['deliveries_per_s', 'p50_ms', 'p99_ms', 'peak_rss_mb', 'ratio_to_ceiling', 'ratio_to_bullmq', 'cpu_us_per_delivery'];

describe('npm run bench', () => {
  it('runs ceiling, BullMQ (when Redis answers), hookd on SQLite and on PostgreSQL (when it answers) on a tiny workload and writes the JSON', async () => {
    const runs = ['ceiling', ...((await redisAnswers()) ? ['bullmq'] : []), 'sqlite', ...((await postgresAnswers()) || process.env.CI === 'true' ? ['postgres'] : [])];
    const file = join(dir, 'bench.json');
    const { code, stdout, stderr } = await bench(['--events', '50', '--subscribers', '4', '--fanout', '2', '--only', runs.join(','), '--json', file]);
    expect(code, stderr).toBe(0);

    const doc = JSON.parse(readFileSync(file, 'utf8')) as { workload: Record<string, number>; results: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc)).toEqual(['workload', 'results']);
    expect(doc.workload).toMatchObject({ events: 50, subscribers: 4, fanout: 2, deliveries: 100 });
    expect(Object.keys(doc.results)).toEqual(runs);
    for (const run of runs) {
      const result = doc.results[run]!;
      expect(Object.keys(result)).toEqual(FIGURES);
      expect(result.deliveries_per_s).toBeGreaterThan(0);
      expect(result.peak_rss_mb).toBeGreaterThan(0);
      expect(result.ratio_to_ceiling).toEqual(expect.any(Number));
      expect(result.cpu_us_per_delivery).toBeGreaterThan(0); // the sending side's process, read from /proc
      // Every delivery arrived, each once, at every subscriber path.
      expect(stdout).toContain(`${run}: 100/100 deliveries received, 0 duplicates, 4 subscriber paths (25–25 each)`);
    }
    expect(doc.results.ceiling!.ratio_to_ceiling).toBe(1);
    expect(stdout).toMatch(/^run\s+deliveries\/s\s+p50 ms\s+p99 ms\s+peak RSS MB\s+÷ ceiling\s+÷ BullMQ\s+CPU µs\/delivery$/m);
  }, 180_000);

  it('with --filters, runs sqlite-filtered (ratio to sqlite) and filter-cost, and writes them under "filters"', async () => {
    const file = join(dir, 'filters.json');
    const { code, stdout, stderr } = await bench(['--events', '50', '--subscribers', '4', '--fanout', '2', '--only', 'sqlite', '--filters', '--filter-seconds', '1', '--json', file]);
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, Record<string, unknown>>; filters: Record<string, any> };
    expect(Object.keys(doc)).toEqual(['workload', 'results', 'filters']);
    expect(Object.keys(doc.results)).toEqual(['sqlite', 'sqlite-filtered']);
    expect(Object.keys(doc.results['sqlite-filtered']!)).toEqual(FIGURES);
    // The filter passes every event: every delivery still arrived, each once.
    expect(stdout).toContain('sqlite-filtered: 100/100 deliveries received, 0 duplicates, 4 subscriber paths (25–25 each)');
    expect(doc.filters.fanout).toMatchObject({ subscribers: 4, fanout: 2, conditions_per_batch_publish: 100, ratio_to_sqlite: expect.any(Number) });
    expect(doc.filters.fanout.sandbox_peak_rss_mb).toBeGreaterThan(0);
    const evaluation = doc.filters.evaluation;
    expect(evaluation).toMatchObject({ query: '$.price', condition: '(x) => x > 15' });
    const figures = [evaluation.isolate, evaluation.single, ...evaluation.batches];
    expect(evaluation.batches.map((b: { conditions_per_batch: number }) => b.conditions_per_batch)).toEqual([2, 1000]);
    for (const f of figures) {
      expect(f.samples).toBeGreaterThan(0);
      expect(f.median_us).toBeGreaterThan(0);
      expect(f.p99_us).toBeGreaterThanOrEqual(f.median_us);
    }
    expect(stdout).toMatch(/one condition per Rules\.evaluate \(round trip\): +median [\d.]+ µs/);
  }, 120_000);

  it.skipIf(!withPostgres).each([
    ['all,all', ['all', 'all']],
    ['api,dispatcher,dispatcher', ['api', 'dispatcher', 'dispatcher']],
  ])('runs postgres-2 with --nodes %s (PostgreSQL answers) and writes its nodes', async (layout, roles) => {
    const file = join(dir, `nodes-${roles.length}.json`);
    const { code, stdout, stderr } = await bench(['--events', '50', '--subscribers', '4', '--fanout', '2', '--only', 'postgres-2', '--nodes', layout, '--json', file]);
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, Record<string, unknown>>; nodes: Record<string, any> };
    expect(Object.keys(doc.results)).toEqual(['postgres-2']);
    expect(Object.keys(doc.results['postgres-2']!)).toEqual(FIGURES);
    expect(doc.results['postgres-2']!.deliveries_per_s).toBeGreaterThan(0);
    expect(doc.results['postgres-2']!.cpu_us_per_delivery).toBeNull(); // several processes: not measured
    expect(stdout).toContain('postgres-2: 100/100 deliveries received, 0 duplicates, 4 subscriber paths (25–25 each)');
    const nodes = doc.nodes['postgres-2'];
    expect(nodes.roles).toEqual(roles);
    expect(nodes.concurrency_per_node).toBe(32);
    expect(nodes.peak_rss_mb_per_node).toHaveLength(roles.length);
    // Nodes that serve an API report their attempts: with two `all` nodes, together at least one per delivery.
    if (layout === 'all,all') expect(nodes.attempts_per_node[0] + nodes.attempts_per_node[1]).toBeGreaterThanOrEqual(100);
    else expect(nodes.attempts_per_node).toEqual([0, null, null]);
  }, 120_000);

  it('measures latency at the rate asked for, and its progress counts from when the publishing began', async () => {
    const file = join(dir, 'latency.json');
    const args = ['--events', '20', '--subscribers', '2', '--fanout', '2', '--only', 'sqlite', '--latency', '--latency-seconds', '1', '--latency-rate', '40'];
    const { code, stdout, stderr } = await bench([...args, '--json', file]);
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { latency: Record<string, number> };
    expect(doc.latency).toMatchObject({ target_deliveries_per_s: 40, events_per_s: 20, deliveries: 40 });
    // The wait starts once the publishing is done: counted from then, it read ~0.0 s and thousands a second.
    const final = /latency: 40\/40 deliveries \(100\.0 %\), ([\d,]+)\/s, ([\d.]+) s/.exec(stdout);
    expect(final, stdout).not.toBeNull();
    expect(Number(final![2]!)).toBeGreaterThanOrEqual(0.9);
    expect(Number(final![1]!.replace(/,/g, ''))).toBeLessThanOrEqual(45);
  }, 60_000);

  it('prints a skipped run with its reason and writes {"skipped": reason} for it', async () => {
    const file = join(dir, 'skipped.json');
    const dead = 'postgres://postgres@127.0.0.1:1/postgres';
    const { code, stdout, stderr } = await bench(['--events', '10', '--subscribers', '2', '--fanout', '1', '--only', 'ceiling,postgres,postgres-2', '--json', file], { BENCH_POSTGRES_URL: dead });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`postgres: skipped (PostgreSQL does not answer at ${dead})`);
    expect(stdout).toContain(`postgres-2: skipped (PostgreSQL does not answer at ${dead})`);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, unknown> };
    expect(doc.results.postgres).toEqual({ skipped: `PostgreSQL does not answer at ${dead}` });
    expect(doc.results['postgres-2']).toEqual({ skipped: `PostgreSQL does not answer at ${dead}` });
  }, 60_000);

  it('refuses a postgres-2 layout without a node that dispatches', async () => {
    const { code, stderr } = await bench(['--only', 'postgres-2', '--nodes', 'api,api']);
    expect(code).toBe(2);
    expect(stderr).toContain('--nodes: at least one node must dispatch');
  }, 30_000);

  it('refuses a fan-out that does not divide the subscribers', async () => {
    const { code, stderr } = await bench(['--subscribers', '10', '--fanout', '3']);
    expect(code).toBe(2);
    expect(stderr).toContain('--subscribers (10) must be a multiple of --fanout (3)');
  }, 30_000);
});
