// API keys in SQLite: only hashes are kept.
import type Database from 'better-sqlite3';
import type { ApiKeyRecord } from '../port.ts';
import { toApiKeyRecord as toRecord, type ApiKeyRow } from './rows.ts';


export function sqliteApiKeys(db: Database.Database) {
  const insert = db.prepare('INSERT INTO api_keys (id, organization_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)');
  const find = db.prepare('SELECT * FROM api_keys WHERE id = ?');
  const listAll = db.prepare('SELECT * FROM api_keys ORDER BY created_at');
  const listOrg = db.prepare('SELECT * FROM api_keys WHERE organization_id = ? ORDER BY created_at');
  const revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const countActive = db.prepare('SELECT count(*) FROM api_keys WHERE revoked_at IS NULL').pluck();

  return {
    insert: (r: { id: string; organizationId: string; name: string | null; hash: string }, now: number) => {
      insert.run(r.id, r.organizationId, r.name, r.hash, now);
    },
    find: (id: string): ApiKeyRecord | null => {
      const row = find.get(id) as ApiKeyRow | undefined;
      return row ? toRecord(row) : null;
    },
    list: (organizationId?: string): ApiKeyRecord[] =>
      ((organizationId === undefined ? listAll.all() : listOrg.all(organizationId)) as ApiKeyRow[]).map(toRecord),
    revoke: (id: string, now: number): boolean => revoke.run(now, id).changes > 0,
    countActive: (): number => countActive.get() as number,
  };
}
