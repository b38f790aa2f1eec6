// The WAL checkpointer's thread (see checkpointer.ts): its own connection to the file, a passive checkpoint every
// second. Passive: it copies what no reader still needs and never waits for, or blocks, a writer.
// A WAL is written from its start again only by a commit that finds it all copied back, so under commits that never
// stop it grew without end (single-event publishes back to back: 86 MB in 2 s). Once it holds more than
// restartAboveBytes, the pass ends with a RESTART checkpoint: it waits for the commit of the moment, holds off the next
// one while it finishes (the passive pass left it little to copy, but it syncs the file) and has the next commit start
// the WAL over. The file keeps its size and is written over from then on.
// Plain CommonJS: a thread this small needs no TypeScript loader.
const { workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');

const { path, everyMs, restartAboveBytes } = workerData;
const db = new Database(path);
// How long a RESTART waits for a writer or a reader before it gives up until the next tick.
db.pragma('busy_timeout = 100');

const frameBytes = db.pragma('page_size', { simple: true }) + 24;

setInterval(() => {
  try {
    const [{ log }] = db.pragma('wal_checkpoint(PASSIVE)'); // log: frames in the WAL
    if (log * frameBytes > restartAboveBytes) db.pragma('wal_checkpoint(RESTART)');
  } catch {
    // SQLITE_BUSY (another checkpoint is running) or a file that went away: the next tick tries again.
  }
}, everyMs);
