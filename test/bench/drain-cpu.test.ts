// bench/drain-cpu.ts runs end to end on a tiny workload and prints its per-thread figures (no timing assertion).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('publishes with the dispatcher off, drains to the receiver, and prints CPU per delivery by thread', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/drain-cpu.ts', '30'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
  });
  expect(code, stderr).toBe(0);
  const us = String.raw`(\d+\.\d) µs`;
  expect(stdout).toMatch(
    new RegExp(
      String.raw`^drained 300 deliveries in \d+\.\d s \(\d+/s\); CPU per delivery: hookd main thread ${us}, sending thread ${us}, ` +
        String.raw`other threads ${us}, in all ${us}; receiver ${us}; hookd wrote \d+ bytes to disk per delivery\n$`,
    ),
  );
}, 60_000);
