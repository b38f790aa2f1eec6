// Forking the bench's own TypeScript modules as child processes (tsx loader, no build step), with a small
// request/response helper over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Forks bench/<module>.ts with tsx; stdout and stderr are shared with the bench. */
export function forkBench(module: string, args: string[] = []): ChildProcess {
  return fork(fileURLToPath(new URL(`./${module}.ts`, import.meta.url)), args, {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Calls over IPC: each request carries an id, the reply with the same id resolves it. */
export class Rpc<Req extends { id: number }, Rep extends { id: number }> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Rep) => void; reject: (e: Error) => void }>();

  constructor(private readonly child: ChildProcess, name: string) {
    child.on('message', (message: Rep) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      waiter.resolve(message);
    });
    child.on('exit', (code, signal) => {
      const error = new Error(`${name} process exited (${code ?? signal})`);
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
  }

  call<R extends Rep>(request: Omit<Req, 'id'>): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: Rep) => void, reject });
      this.child.send({ ...request, id });
    });
  }
}

/** Resolves with the first message that satisfies `test`; rejects if the child exits first. */
export function firstMessage<T>(child: ChildProcess, test: (message: unknown) => message is T, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!test(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${name} process exited (${code ?? signal}) before it was ready`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Ends a child: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
