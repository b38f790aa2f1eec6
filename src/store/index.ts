// Picks the Store adapter named by HOOKD_DATABASE_URL.
import type { Config } from '../config.ts';
import { HookdError } from '../errors.ts';
import type { Store } from './port.ts';
import { openSqliteStore, sqlitePath } from './sqlite/index.ts';

export type * from './port.ts';

export async function openStore(config: Pick<Config, 'databaseUrl'>): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) return openSqliteStore(sqlitePath(config.databaseUrl));
  throw new HookdError('STORE_UNAVAILABLE', 'the PostgreSQL adapter is not available yet: use HOOKD_DATABASE_URL=sqlite:<path>');
}
