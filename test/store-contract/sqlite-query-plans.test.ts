// SQLite only: the queries a claim runs per subscriber read the partial "due" index in queue order, so their cost
// follows the rows they return, not the rows behind them in the table or the length of the queue.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_READS } from '../../src/store/sqlite/dispatch.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';

let dir: string;
let db: Database.Database;

beforeAll(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-plans-');
  const file = join(dir, 'hookd.db');
  await openSqliteStore(file).close(); // creates and migrates the file
  db = new Database(file);
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const plan = (sql: string): string[] =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array<number>(sql.split('?').length - 1).fill(1)) as { detail: string }[]).map((r) => r.detail);

describe('SQLite claim queries', () => {
  it.each([['head', QUEUE_READS.head], ['after', QUEUE_READS.after]])('%s reads the due index in order, and only the rows it returns, no sort', (_, sql) => {
    const steps = plan(sql);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatch(/^SEARCH deliveries USING INDEX deliveries_due \(subscriber_id=\?/);
  });

  it('the count up to a place in the queue reads the due index alone', () => {
    expect(plan(QUEUE_READS.upTo)).toEqual([expect.stringMatching(/^SEARCH deliveries USING COVERING INDEX deliveries_due \(subscriber_id=\?/)]);
  });

  it.each(Object.entries(QUEUE_READS))('%s binds no bare LIMIT ?, which SQLite prepares again at every run', (_, sql) => {
    expect(sql).not.toMatch(/LIMIT \?(?!\s*\+)/);
  });
});
