// SQLite only: the queries a claim runs per subscriber read the partial "due" index in queue order, so their cost
// follows the rows they return, not the rows behind them in the table or the length of the queue; and the queries by
// subscriber read that subscriber's two indexes, not the tenant's deliveries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listingSql } from '../../src/store/sqlite/deliveries.ts';
import { QUEUE_READS } from '../../src/store/sqlite/dispatch.ts';
import { deliveriesWhere } from '../../src/store/sqlite/subscriber-rows.ts';
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

describe('SQLite queries by subscriber', () => {
  const indexSql = (name: string) => db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").pluck().get(name);

  it('keeps a per-subscriber index of finished deliveries only, so a publish writes one per-subscriber entry, not two', () => {
    expect(indexSql('deliveries_by_subscriber_created')).toBeUndefined();
    expect(indexSql('deliveries_by_subscriber_finished')).toMatch(/\(subscriber_id, created_at\) WHERE status NOT IN \('PENDING', 'FAILED'\)$/);
    expect(indexSql('deliveries_due')).toMatch(/WHERE status IN \('PENDING', 'FAILED'\)$/);
  });

  const reads = (steps: string[]) => steps.filter((s) => /deliveries/.test(s) && /^(SEARCH|SCAN)/.test(s));
  const BOTH_HALVES = [
    expect.stringMatching(/^SEARCH deliveries USING INDEX deliveries_due \(subscriber_id=\?/),
    expect.stringMatching(/^SEARCH deliveries USING INDEX deliveries_by_subscriber_finished \(subscriber_id=\?/),
  ];

  it.each([
    ['a subscriber', 'organization_id = ? AND extension_id = ? AND subscriber_id = ?'],
    ['a subscriber, a status and a time range', 'organization_id = ? AND extension_id = ? AND subscriber_id = ? AND status = ? AND created_at >= ? AND created_at <= ?'],
  ])('the listing of %s counts and pages through its two indexes', (_, clause) => {
    const { count, page } = listingSql(clause, true);
    expect(reads(plan(count))).toEqual(BOTH_HALVES);
    expect(reads(plan(page))).toEqual(BOTH_HALVES);
    expect(plan(page)[0]).toBe('MERGE (UNION ALL)'); // each half in order, merged: the finished half stops at the page
  });

  it('a report over one subscriber reads its two indexes, alone and joined with the attempts', () => {
    const { source } = deliveriesWhere('organization_id = ? AND extension_id = ? AND created_at BETWEEN ? AND ? AND subscriber_id = ?', [], true);
    expect(reads(plan(`SELECT event_slug, count(*) FROM ${source} GROUP BY event_slug`))).toEqual(BOTH_HALVES);
    expect(reads(plan(`SELECT d.event_slug, count(*) FROM ${source} d JOIN attempts a ON a.delivery_id = d.id GROUP BY d.event_slug`))).toEqual(BOTH_HALVES);
  });
});
