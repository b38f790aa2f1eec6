// API keys in PostgreSQL: only hashes are kept.
import type pg from 'pg';
import type { ApiKeyRecord } from '../port.ts';
import { toApiKeyRecord as toRecord, type ApiKeyRow } from './rows.ts';


const INSERT = 'INSERT INTO api_keys (id, organization_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)';
const FIND = 'SELECT * FROM api_keys WHERE id = $1';
const LIST_ALL = 'SELECT * FROM api_keys ORDER BY created_at, id';
const LIST_ORG = 'SELECT * FROM api_keys WHERE organization_id = $1 ORDER BY created_at, id';
const REVOKE = 'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL';
const COUNT_ACTIVE = 'SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL';

export function postgresApiKeys(pool: pg.Pool) {
  return {
    insert: async (r: { id: string; organizationId: string; name: string | null; hash: string }, now: number) => {
      await pool.query(INSERT, [r.id, r.organizationId, r.name, r.hash, now]);
    },
    find: async (id: string): Promise<ApiKeyRecord | null> => {
      const row = (await pool.query<ApiKeyRow>(FIND, [id])).rows[0];
      return row ? toRecord(row) : null;
    },
    list: async (organizationId?: string): Promise<ApiKeyRecord[]> =>
      (organizationId === undefined ? await pool.query<ApiKeyRow>(LIST_ALL) : await pool.query<ApiKeyRow>(LIST_ORG, [organizationId])).rows.map(
        toRecord,
      ),
    revoke: async (id: string, now: number): Promise<boolean> => ((await pool.query(REVOKE, [now, id])).rowCount ?? 0) > 0,
    countActive: async (): Promise<number> => (await pool.query<{ n: number }>(COUNT_ACTIVE)).rows[0]!.n,
  };
}
