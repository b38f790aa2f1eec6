// Which process may dispatch from a SQLite file. Leases are in memory (leases.ts), so two dispatchers on one file
// would send the same deliveries: the second one waits until the first stops, dies or goes quiet.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { withoutFsync } from './wal-sync.ts';

/** How often the holder renews its heartbeat while it claims, and how often a waiting process looks again. */
const RENEW_MS = 1000;
/** A holder that has not renewed for this long is presumed gone. */
const STALE_MS = 10_000;

interface LockRow {
  owner: string;
  host: string;
  pid: number;
  heartbeat_at: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export class DispatcherLock {
  readonly retryMs = RENEW_MS;
  private readonly me = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly host = hostname();
  private checkedAt = -Infinity;
  private held = false;
  private warned = false;
  private readonly select;
  private readonly upsert;
  private readonly remove;

  constructor(private readonly db: Database.Database) {
    this.select = db.prepare('SELECT owner, host, pid, heartbeat_at FROM dispatcher_lock WHERE id = 1');
    this.upsert = db.prepare(`
      INSERT INTO dispatcher_lock (id, owner, host, pid, heartbeat_at) VALUES (1, @owner, @host, @pid, @at)
      ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, heartbeat_at = excluded.heartbeat_at`);
    this.remove = db.prepare('DELETE FROM dispatcher_lock WHERE id = 1 AND owner = ?');
  }

  /** True when this process may dispatch; takes or renews the lock at most once a second (wall clock). */
  holds(): boolean {
    const now = Date.now();
    if (now >= this.checkedAt && now - this.checkedAt < RENEW_MS) return this.held;
    this.checkedAt = now;
    // No fsync of its own: the renewal runs on the main thread once a second, in the middle of claims, and its sync
    // was 1.7 % of the main thread's samples in a bench profile (the throughput did not move: three pairs within the
    // noise). A heartbeat lost to a power cut only makes the lock look older, and the next publish's sync of the WAL
    // makes it durable anyway.
    this.held = withoutFsync(this.db, () => this.renew(now));
    if (this.held) this.warned = false;
    return this.held;
  }

  private renew(now: number): boolean {
    return this.db.transaction(() => {
      const row = this.select.get() as LockRow | undefined;
      const free = !row || row.owner === this.me || row.heartbeat_at < now - STALE_MS || (row.host === this.host && !isAlive(row.pid));
      if (free) this.upsert.run({ owner: this.me, host: this.host, pid: process.pid, at: now });
      else if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `hookd: process ${row.pid} on ${row.host} dispatches from this SQLite file; this one serves but does not dispatch until it stops`,
        );
      }
      return free;
    }).immediate();
  }

  /** Lets the next process take over at once (graceful stop). */
  release(): void {
    if (this.held && this.db.open) this.remove.run(this.me);
    this.held = false;
  }
}
