import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e suites start real servers and child processes; two files at a time fit a 2-core machine.
    maxWorkers: 2,
    // isolated-vm asks for it on Node 20+ (the sandbox unit tests create isolates inside test workers).
    execArgv: ['--no-node-snapshot'],
  },
});
