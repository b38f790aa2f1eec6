// The WAL checkpointer's thread (see checkpointer.ts): its own connection to the file, a passive checkpoint every
// few hundred milliseconds. Passive: it copies what no reader still needs and never waits for, or blocks, a writer.
// Plain CommonJS: a thread this small needs no TypeScript loader.
const { workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');

const db = new Database(workerData.path);
setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (another checkpoint is running) or a file that went away: the next tick tries again.
  }
}, workerData.everyMs);
