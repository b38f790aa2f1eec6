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

const FIGURES = ['deliveries_per_s', 'p50_ms', 'p99_ms', 'peak_rss_mb', 'ratio_to_ceiling', 'ratio_to_bullmq'];

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
      // Every delivery arrived, each once, at every subscriber path.
      expect(stdout).toContain(`${run}: 100/100 deliveries received, 0 duplicates, 4 subscriber paths (25–25 each)`);
    }
    expect(doc.results.ceiling!.ratio_to_ceiling).toBe(1);
    expect(stdout).toMatch(/^run\s+deliveries\/s\s+p50 ms\s+p99 ms\s+peak RSS MB/m);
  }, 180_000);

  it('prints a skipped run with its reason and writes {"skipped": reason} for it', async () => {
    const file = join(dir, 'skipped.json');
    const dead = 'postgres://postgres@127.0.0.1:1/postgres';
    const { code, stdout, stderr } = await bench(['--events', '10', '--subscribers', '2', '--fanout', '1', '--only', 'ceiling,postgres', '--json', file], { BENCH_POSTGRES_URL: dead });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`postgres: skipped (PostgreSQL does not answer at ${dead})`);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, unknown> };
    expect(doc.results.postgres).toEqual({ skipped: `PostgreSQL does not answer at ${dead}` });
  }, 60_000);

  it('refuses a fan-out that does not divide the subscribers', async () => {
    const { code, stderr } = await bench(['--subscribers', '10', '--fanout', '3']);
    expect(code).toBe(2);
    expect(stderr).toContain('--subscribers (10) must be a multiple of --fanout (3)');
  }, 30_000);
});
