// Runs conditions in a separate sandbox process, batched: one IPC round trip for all the conditions of a publish.
// A batch that crashes the process or overstays its deadline is retried one condition at a time in a fresh
// process, so only the condition at fault fails.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONDITION_TIMEOUT_MS, ISOLATE_MEMORY_MB } from './sandbox.ts';
import type { ConditionJob, JobResult, SandboxRequest, SandboxResponse } from './sandbox-protocol.ts';

const ENTRY = fileURLToPath(new URL('./sandbox-process.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** Head-room past the isolate's own deadline before the process is presumed stuck in native code. */
const WATCHDOG_GRACE_MS = 250;

interface Pending {
  resolve(results: JobResult[] | null): void;
  timer: NodeJS.Timeout;
  child: ChildProcess;
}

type Payload = { kind: 'evaluate'; jobs: ConditionJob[] } | { kind: 'check'; sources: string[] };

export class ConditionRunner {
  private child: Promise<ChildProcess> | undefined;
  private readonly pending = new Map<number, Pending>();
  /** The process behind `child`, once spawned. */
  private current: ChildProcess | undefined;
  private nextId = 1;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private restarts = 0;

  evaluate(jobs: ConditionJob[]): Promise<JobResult[]> {
    return jobs.length === 0 ? Promise.resolve([]) : this.request({ kind: 'evaluate', jobs });
  }

  /** For each source: null when it compiles to a function, else why not. */
  async check(sources: string[]): Promise<(string | null)[]> {
    if (sources.length === 0) return [];
    const results = await this.request({ kind: 'check', sources });
    return results.map((r) => (r.ok ? null : r.error));
  }

  /** How many sandbox processes were killed or died (a measure of hostile conditions seen). */
  get sandboxRestarts(): number {
    return this.restarts;
  }

  private async request(payload: Payload): Promise<JobResult[]> {
    const size = payload.kind === 'evaluate' ? payload.jobs.length : payload.sources.length;
    const results = await this.send(payload, size);
    if (results !== null) return results;
    if (size === 1) return [{ ok: false, error: this.crashMessage() }];
    // Something in the batch took the process down: run each alone so only the culprit fails.
    const alone: JobResult[] = [];
    for (let i = 0; i < size; i++) {
      const single: Payload =
        payload.kind === 'evaluate' ? { kind: 'evaluate', jobs: [payload.jobs[i]!] } : { kind: 'check', sources: [payload.sources[i]!] };
      alone.push(((await this.send(single, 1)) ?? [{ ok: false, error: this.crashMessage() }])[0]!);
    }
    return alone;
  }

  private crashMessage(): string {
    return `the condition was stopped: it exceeded the ${ISOLATE_MEMORY_MB} MiB memory limit or ran past the ${CONDITION_TIMEOUT_MS} ms deadline inside a built-in`;
  }

  /**
   * Resolves with the results, or null when the process died or overstayed its deadline. Requests go to the
   * process one at a time, so a death is always laid at the door of the request that caused it.
   */
  private send(payload: Payload, size: number): Promise<JobResult[] | null> {
    const turn = this.queue.then(() => this.sendNow(payload, size));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async sendNow(payload: Payload, size: number): Promise<JobResult[] | null> {
    if (this.closed) return Array.from({ length: size }, () => ({ ok: false as const, error: 'the sandbox is shut down' }));
    let child: ChildProcess;
    try {
      child = await this.process();
    } catch {
      return null;
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const deadline = (CONDITION_TIMEOUT_MS + 10) * size + WATCHDOG_GRACE_MS;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
        this.kill(child);
      }, deadline);
      this.pending.set(id, { resolve, timer, child });
      child.send({ id, ...payload } satisfies SandboxRequest);
    });
  }

  private process(): Promise<ChildProcess> {
    this.child ??= this.spawn();
    return this.child;
  }

  private spawn(): Promise<ChildProcess> {
    const child = fork(ENTRY, [], {
      execArgv: ['--no-node-snapshot', `--import=${TSX}`, '--max-old-space-size=96'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the condition sandbox did not start'));
      }, 15_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve(child);
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error('the condition sandbox exited during start-up'));
      });
    });
    child.on('message', (message: SandboxResponse) => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.pending.delete(message.id);
      pending.resolve(message.results);
    });
    child.on('error', () => {}); // a send to a dead process: its 'exit' handler settles the requests
    child.on('exit', () => {
      if (this.current === child) {
        this.child = undefined;
        this.current = undefined;
        if (!this.closed) this.restarts++;
      }
      // Every request still waiting on this process gets null and is retried by its caller.
      for (const [id, pending] of this.pending) {
        if (pending.child !== child) continue;
        clearTimeout(pending.timer);
        this.pending.delete(id);
        pending.resolve(null);
      }
    });
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    this.current = child;
    ready.catch(() => {
      if (this.current === child) (this.child = undefined), (this.current = undefined);
    });
    return ready;
  }

  private kill(child: ChildProcess): void {
    // Forget the process now, not at its 'exit': the next request must not be sent to a process that is dying.
    if (this.current === child) {
      this.child = undefined;
      this.current = undefined;
      if (!this.closed) this.restarts++;
    }
    child.kill('SIGKILL');
  }

  close(): void {
    this.closed = true;
    this.current?.kill('SIGKILL');
    this.child = undefined;
    this.current = undefined;
  }
}
