// Checkpoints the WAL from a thread of its own. SQLite's automatic checkpoint runs inside whichever commit crosses the
// threshold, on the main thread: copying 16 MB of pages back into the database file there stalled publishes and the
// dispatcher for 20–100 ms every several seconds under load, which is what publish→receipt p99 saw.
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

const ENTRY = new URL('./checkpoint-worker.cjs', import.meta.url);
const EVERY_MS = 250;
/** WAL size past which a checkpoint also restarts the WAL (bytes). */
const RESTART_ABOVE_BYTES = 64 * 1024 * 1024;
/** Pages: what SQLite's own checkpoint falls back to if the thread stops. */
const FALLBACK_AUTOCHECKPOINT = 4000;

export class Checkpointer {
  private readonly worker: Worker;
  private closing = false;

  constructor(db: Database.Database, path: string, restartAboveBytes = RESTART_ABOVE_BYTES) {
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(ENTRY, {
      workerData: { path, everyMs: EVERY_MS, restartAboveBytes },
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
