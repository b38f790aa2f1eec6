// hookd's version, read once from package.json (sent as user-agent: hookd/<version>).
import { readFileSync } from 'node:fs';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
