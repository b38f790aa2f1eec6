import { defineConfig } from 'vitest/config';

/**
 * Suites that measure behaviour under load of their own (SIGKILLs mid-delivery, fault injection with latency bounds,
 * duplicate bounds across nodes): they run one at a time after the rest, not beside another heavy file on two cores,
 * where a lease could run out or a latency bound be missed for reasons of the test machine alone.
 */
const LOAD_SENSITIVE = ['test/e2e/faults.test.ts', 'test/e2e/crash.test.ts', 'test/e2e/postgres-nodes.test.ts', 'test/e2e/postgres-restart.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // isolated-vm asks for it on Node 20+ (the sandbox unit tests create isolates inside test workers).
    execArgv: ['--no-node-snapshot'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: LOAD_SENSITIVE,
          // e2e suites start real servers and child processes; two files at a time fit a 2-core machine.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'under-load',
          include: LOAD_SENSITIVE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
