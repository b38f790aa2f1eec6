// Entry point of the condition sandbox process: runs conditions in a V8 isolate and answers over IPC.
// It lives in its own process because some allocations inside an isolate end in a V8 fatal OOM that aborts
// the whole process, and long native builtins ignore the isolate's deadline: the server kills and replaces
// this process instead of going down with it.
import { ConditionError, ConditionSandbox } from './sandbox.ts';
import type { JobResult, SandboxRequest, SandboxResponse } from './sandbox-protocol.ts';

const sandbox = new ConditionSandbox();

const failure = (err: unknown): JobResult => ({
  ok: false,
  error: err instanceof ConditionError ? err.message : `the condition failed: ${err instanceof Error ? err.message : String(err)}`,
});

process.on('message', (request: SandboxRequest) => {
  const results: JobResult[] =
    request.kind === 'evaluate'
      ? request.jobs.map((job) => {
          try {
            return { ok: true, result: sandbox.run(job.source, job.value) };
          } catch (err) {
            return failure(err);
          }
        })
      : request.sources.map((source) => {
          try {
            sandbox.check(source);
            return { ok: true, result: true };
          } catch (err) {
            return failure(err);
          }
        });
  process.send!({ id: request.id, results } satisfies SandboxResponse);
});

// Build the isolate before saying we are ready, so no request's deadline pays for it.
sandbox.check('() => true');

// Tell the parent we can take work: its per-request deadline starts only now, not during start-up.
process.send!({ ready: true });

// The parent going away (even by SIGKILL) closes the IPC channel: leave with it.
process.on('disconnect', () => process.exit(0));
