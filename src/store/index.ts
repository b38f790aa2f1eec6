// Picks the Store adapter named by HOOKD_DATABASE_URL.
import type { Config } from '../config.ts';
import { HookdError } from '../errors.ts';
import type { Store } from './port.ts';
import { openSqliteStore, sqlitePath } from './sqlite/index.ts';

export type * from './port.ts';
export { isStoreUnavailable } from './errors.ts';

const DEFAULT_POOL_SIZE = 10;

export async function openStore(config: Pick<Config, 'databaseUrl'> & Partial<Pick<Config, 'databasePoolSize'>>): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) return openSqliteStore(sqlitePath(config.databaseUrl));
  if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    // Loaded on demand, so a SQLite deployment (and the CLI on it) never loads pg and its modules.
    const { openPostgresStore } = await import('./postgres/index.ts');
    return openPostgresStore(config.databaseUrl, { poolSize: config.databasePoolSize ?? DEFAULT_POOL_SIZE });
  }
  throw new HookdError('STORE_UNAVAILABLE', 'HOOKD_DATABASE_URL must start with sqlite: or postgres://');
}
