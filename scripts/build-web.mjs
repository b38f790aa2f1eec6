#!/usr/bin/env node
// Builds the dashboard (web/ → web/dist/) with Vite, only when its sources changed since the last build:
// a hash of web/'s sources and of the versions of the packages it is built with is kept in web/dist/.build-stamp.
// Runs before `npm start` (prestart) and from the dashboard e2e test. `--force` builds anyway.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const dist = join(web, 'dist');
const stamp = join(dist, '.build-stamp');
const BUILD_PACKAGES = ['vite', '@preact/preset-vite', 'preact', 'uplot'];

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name.includes('.timestamp-')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else out.push(path);
  }
  return out.sort();
}

function packageVersion(name) {
  try {
    return createRequire(join(root, 'package.json'))(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

function sourceHash() {
  const hash = createHash('sha256');
  for (const file of sourceFiles(web)) hash.update(relative(web, file)).update('\0').update(readFileSync(file)).update('\0');
  for (const name of BUILD_PACKAGES) hash.update(`${name}@${packageVersion(name)}\0`);
  return hash.digest('hex');
}

const built = () => existsSync(join(dist, 'index.html'));
const force = process.argv.includes('--force');
const hash = sourceHash();

if (!force && built() && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) {
  console.log('dashboard: web/dist is up to date');
  process.exit(0);
}

let vite;
try {
  vite = await import('vite');
} catch {
  // An install without devDependencies: serve what was built before, or the API alone.
  console.warn(
    built()
      ? 'dashboard: vite is not installed; serving the existing web/dist'
      : 'dashboard: vite is not installed (devDependencies left out), so the dashboard is not built; the API works without it',
  );
  process.exit(0);
}

const started = Date.now();
try {
  await vite.build({ configFile: join(web, 'vite.config.ts'), logLevel: 'warn' });
} catch (err) {
  console.error(`dashboard: build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
writeFileSync(stamp, `${hash}\n`);
console.log(`dashboard: built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
