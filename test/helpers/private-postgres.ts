// A throwaway PostgreSQL server of the test's own (initdb in a temp dir, its own port and socket directory), for tests
// that must stop and restart the database: the machine's shared PostgreSQL on 5432 serves other test files at the
// same time and is never touched. Needs the server binaries (/usr/lib/postgresql/<version>/bin, or initdb on PATH)
// and either root (the server then runs as the `postgres` user through runuser) or a non-root user.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  /** `pg_ctl stop`; `immediate` is a crash-like stop (no checkpoint, connections cut), recovery runs at the next start. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (immediately) and removes its files. */
  destroy(): Promise<void>;
  /** The server's own log. */
  serverLog(): string;
}

/** The bin directory of the newest installed PostgreSQL, or null. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

interface RunAs {
  /** Prefix of every server command (runuser when we are root). */
  prefix: string[];
  uid: number | undefined;
  gid: number | undefined;
}

function runAs(): RunAs | string {
  if (process.getuid?.() !== 0) return { prefix: [], uid: undefined, gid: undefined };
  // PostgreSQL refuses to run as root: run it as the `postgres` user.
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser') && !existsSync('/usr/bin/runuser')) return 'running as root but runuser is missing';
    return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
  } catch {
    return 'running as root and there is no `postgres` user to run the server as';
  }
}

/** Null when a private server can be started here, else why not. */
export function privatePostgresProblem(): string | null {
  if (process.platform === 'win32') return 'not supported on Windows';
  if (!binDir()) return 'no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH';
  const who = runAs();
  return typeof who === 'string' ? who : null;
}

function run(argv: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * A port below the kernel's ephemeral range, so that while the server is stopped no test's `listen(0)` or outgoing
 * connection can be handed the port it must come back on.
 */
async function freePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {}
  const from = Math.max(1025, Math.min(20_000, low - 5000));
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (low - 1 - from));
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port for the private PostgreSQL');
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const who = runAs();
  if (!bin || typeof who === 'string') throw new Error(`cannot start a private PostgreSQL: ${privatePostgresProblem()}`);
  const dir = mkdtempSync(join(tmpdir(), 'hookd-pg-'));
  if (who.uid !== undefined && who.gid !== undefined) chownSync(dir, who.uid, who.gid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const pgCtl = [...who.prefix, join(bin, 'pg_ctl'), '-D', data];
  let running = false;

  // At exit (a crashed test run included), never leave a server behind.
  const onExit = () => {
    if (!running) return;
    try {
      execFileSync(pgCtl[0]!, [...pgCtl.slice(1), '-m', 'immediate', 'stop'], { stdio: 'ignore', timeout: 10_000 });
    } catch {}
  };
  process.on('exit', onExit);

  // -N: initdb's files are not fsynced (a test cluster; the server itself fsyncs its WAL as usual).
  await run([...who.prefix, join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-N']);

  const start = async () => {
    await run([...pgCtl, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
    running = true;
  };
  const stop = async (mode: 'immediate' | 'fast' = 'immediate') => {
    await run([...pgCtl, '-m', mode, '-w', 'stop']);
    running = false;
  };
  await start();

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    stop,
    async destroy() {
      if (running) await stop('immediate').catch(() => {});
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
    serverLog: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}
