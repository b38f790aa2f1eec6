// Makes committed WAL frames durable from libuv's thread pool instead of inside the commit. A publish commits with
// synchronous=NORMAL (its frames reach the OS, no sync), then waits for an fdatasync of the WAL file before it is
// acknowledged, so a 202 still means "on disk" while the main thread goes on routing, claiming and recording.
//
// As safe as synchronous=FULL for what is acknowledged: fdatasync is the call SQLite itself makes there; on Linux it
// flushes every dirty page of the file, whichever descriptor wrote it; and frames leave the WAL only after a checkpoint
// has copied them into the database file and synced it. A power cut before the sync loses only commits that were not
// acknowledged (the WAL stays consistent under NORMAL). Within that millisecond a claim can already send a delivery of
// such a commit; after a power cut there the publisher, never answered, publishes again and the subscriber gets the
// payload a second time under a new event id: at-least-once, as for any publish whose answer was lost.
import { closeSync, fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';

/**
 * Runs `write` with synchronous=NORMAL (commits without an fsync), then restores the connection's FULL. Inside an open
 * transaction (a batch publish's, which spans turns of the event loop: write-gate.ts) `write` becomes part of it, and
 * that transaction's commit decides: the level cannot change inside a transaction.
 */
export function withoutFsync<T>(db: Database.Database, write: () => T): T {
  if (db.inTransaction) return write();
  db.pragma('synchronous = NORMAL');
  try {
    return write();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

export class WalSync {
  private fd: number | undefined;

  constructor(private readonly walPath: string) {}

  /** Resolves once everything written to the WAL before the call is on disk. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        // Opened at the first sync: the WAL file exists once something was committed in WAL mode.
        this.fd ??= openSync(this.walPath, 'r');
      } catch (error) {
        reject(error);
        return;
      }
      fdatasync(this.fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
