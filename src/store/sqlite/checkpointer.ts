// Checkpoints the WAL from a thread of its own. SQLite's automatic checkpoint runs inside whichever commit crosses the
// threshold, on the main thread: copying 16 MB of pages back into the database file there stalled publishes and the
// dispatcher for 20–100 ms every several seconds under load, which is what publish→receipt p99 saw.
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

const ENTRY = new URL('./checkpoint-worker.cjs', import.meta.url);
/**
 * How often the thread checkpoints (ms). Each pass copies the latest version of every page changed since the last one
 * and syncs the database file, so the pages every commit touches (the ends of indexes, the queue's hot rows) are
 * copied once per pass: at 1 s this thread spends ~36 % less time in its checkpoints than at 250 ms (bench `--only
 * sqlite --profile`, two pairs: 1.03 and 1.11 s against 1.66 and 1.68 s), and hookd's CPU per delivery read 4 % less
 * in the mean of fifteen alternating `--only ceiling,sqlite` pairs (91 against 95 µs; 9 of 15 lower: within the
 * machine's noise). The WAL grows by up to a pass's worth of commits past restartAboveBytes (4 KiB
 * single-event publishes back to back: ~65 MB in a second), on disk and in the page cache, not in this process.
 */
const EVERY_MS = 1000;
/** WAL size past which a checkpoint also restarts the WAL (bytes). */
const RESTART_ABOVE_BYTES = 64 * 1024 * 1024;
/** Pages: what SQLite's own checkpoint falls back to if the thread stops. */
const FALLBACK_AUTOCHECKPOINT = 4000;

export interface CheckpointerOptions {
  /** How often the thread checkpoints (ms). */
  everyMs?: number;
  /** WAL size (bytes) past which a checkpoint also restarts the WAL. */
  restartAboveBytes?: number;
}

export class Checkpointer {
  private readonly worker: Worker;
  private closing = false;

  constructor(db: Database.Database, path: string, { everyMs = EVERY_MS, restartAboveBytes = RESTART_ABOVE_BYTES }: CheckpointerOptions = {}) {
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(ENTRY, {
      workerData: { path, everyMs, restartAboveBytes },
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.worker.unref();
    this.worker.on('error', () => {});
    // A thread that died leaves the WAL to grow: commits checkpoint it themselves again.
    this.worker.on('exit', () => {
      if (!this.closing && db.open) db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}
