#!/usr/bin/env node
// The `hookd` command: serve, migrate and API keys act on the configured store; the operator commands
// (subscribers, publish, deliveries, tail, replay) talk to a running server.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { addRemoteCommands } from './cli/remote.ts';
import { startApp, createLogger } from './app.ts';
import { generateApiKey } from './auth/api-keys.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openStore } from './store/index.ts';
import { VERSION } from './version.ts';

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hookd: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;

const program = new Command('hookd').version(VERSION).description('hookd: a durable webhook dispatcher');

program
  .command('serve')
  .description('serve the API and run the dispatcher (HOOKD_ROLE picks one or both)')
  .action(async () => {
    const cfg = config();
    // V8 lets the heap grow to a multiple of what survived the last full collection before it collects again; a
    // dispatcher allocates fast and keeps little, so that multiple was mostly garbage. Growing by at most 20 % took
    // the peak RSS while draining a backlog from ~350 MB to ~220 MB at the same rate (npm run bench -- --backlog).
    setFlagsFromString('--heap-growing-percent=20');
    const logger = createLogger(cfg);
    const app = await startApp(cfg, logger);
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down: no new claims, finishing in-flight attempts');
      app.close().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    const store = await openStore(config());
    await store.migrate();
    await store.close();
    process.stdout.write('migrations applied\n');
  });

const keys = program.command('keys').description('manage API keys (stored hashed; a key is printed once)');

keys
  .command('create')
  .description('create an API key for an organization and print it once')
  .requiredOption('--organization <id>', 'organization the key acts for')
  .option('--name <name>', 'a label to recognise the key by')
  .action(async (opts: { organization: string; name?: string }) => {
    if (!ORG_ID.test(opts.organization)) {
      process.stderr.write('hookd: --organization must match [A-Za-z0-9_-]{1,64}\n');
      process.exit(2);
    }
    const store = await openStore(config());
    const key = generateApiKey();
    await store.insertApiKey({ id: key.id, organizationId: opts.organization, name: opts.name ?? null, hash: key.hash }, Date.now());
    await store.close();
    process.stdout.write(`${key.key}\n`);
    process.stderr.write(`key ${key.id} created for organization ${opts.organization}; it is shown only this once\n`);
  });

keys
  .command('list')
  .description('list API keys (ids and organizations, never the keys)')
  .option('--organization <id>', 'only this organization')
  .option('--json', 'print JSON')
  .action(async (opts: { organization?: string; json?: boolean }) => {
    const store = await openStore(config());
    const records = (await store.listApiKeys(opts.organization)).map(({ hash: _hash, ...rest }) => rest);
    await store.close();
    if (opts.json) process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    else for (const r of records) process.stdout.write(`${r.id}\t${r.organization_id}\t${r.name ?? ''}\t${r.created_on}\t${r.revoked_on ? `revoked ${r.revoked_on}` : 'active'}\n`);
  });

keys
  .command('revoke <id>')
  .description('revoke an API key; it stops working within a second')
  .action(async (id: string) => {
    const store = await openStore(config());
    const ok = await store.revokeApiKey(id, Date.now());
    await store.close();
    if (!ok) {
      process.stderr.write(`hookd: no active key ${id}\n`);
      process.exit(1);
    }
    process.stdout.write(`key ${id} revoked\n`);
  });

addRemoteCommands(program);

program
  .command('bench')
  .description('run the benchmark (same as npm run bench); flags are passed on')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[flags...]')
  .action((flags: string[]) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', `--import=${import.meta.resolve('tsx')}`, fileURLToPath(new URL('../bench/run.ts', import.meta.url)), ...flags], { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
  });

await program.parseAsync(process.argv);
