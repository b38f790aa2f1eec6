// The Store contract on the SQLite adapter: a real database file in a fresh temporary folder per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { storeContract } from './contract.ts';

storeContract('SQLite store', async () => {
  const dir = mkdtempSync(tmpdir() + sep + 'hookd-store-contract-');
  const store = openSqliteStore(join(dir, 'hookd.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
