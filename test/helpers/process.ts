// Child processes for tests: the real `hookd serve`, run as a user would (and the URL it listens on), and the probes of
// this folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/hookd.js', import.meta.url));

export interface HookdProcess {
  child: ChildProcess;
  url: string;
  logs: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export function runHookd(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function startHookd(env: Record<string, string>, timeoutMs = 20_000): Promise<HookdProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, HOOKD_PORT: '0', HOOKD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hookd did not start within ${timeoutMs} ms:\n${logs.join('')}`));
    }, timeoutMs);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line + '\n');
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'hookd is serving' && entry.url) {
            clearTimeout(timer);
            resolve({ child, url: entry.url, logs, exited });
          }
        } catch {}
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hookd exited (${code}) before serving:\n${logs.join('')}`));
    });
  });
}

/**
 * Runs `node` with `args` in the repository's root and returns the JSON a probe printed after `marker` (the probes in
 * this folder print one such line); throws with the child's output when there is none.
 */
export function probeOutput<T>(args: string[], marker: string): T {
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  const line = new RegExp(`${marker} (.*)`).exec(run.stdout);
  if (!line) throw new Error(`no ${marker} line (exit ${run.status}): ${run.stdout}${run.stderr}`);
  return JSON.parse(line[1]!) as T;
}
