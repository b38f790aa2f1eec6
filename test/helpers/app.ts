// Builds the real app on a fresh SQLite file and a small JSON client for it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startApp, type App, type AppOverrides } from '../../src/app.ts';
import { configWith, type Config } from '../../src/config.ts';

export const ORG = 'org_1';
export const EXT = 'ext_1';
export const tenantPath = (org = ORG, ext = EXT) =>
  `/service/partner/webhook/v1.0/organization/${org}/extension/${ext}`;

export interface Response {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface Client {
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

export function client(baseUrl: string, defaultHeaders: Record<string, string> = {}): Client {
  return {
    async call(method, path, body, headers = {}) {
      const res = await request(baseUrl + path, {
        method: method as 'GET',
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...defaultHeaders, ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.statusCode, body: parsed, headers: res.headers };
    },
  };
}

export interface TestApp extends Client {
  app: App;
  dir: string;
  dbPath: string;
  url: string;
  /** Tenant-scoped path under P = /service/partner/webhook/v1.0/organization/{org}/extension/{ext}. */
  p(path: string): string;
  close(opts?: { keepFiles?: boolean }): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hookd-test-'));
}

export async function startTestApp(overrides: Partial<Config> = {}, dir = tempDir(), appOverrides: AppOverrides = {}): Promise<TestApp> {
  const dbPath = join(dir, 'hookd.db');
  const config = configWith({ port: 0, databaseUrl: `sqlite:${dbPath}`, logLevel: 'silent', allowPrivateNetworks: true, leaseMarginMs: 1000, shutdownGraceMs: 2000, ...overrides });
  const app = await startApp(config, undefined, appOverrides);
  const url = app.url ?? '';
  const c = client(url);
  return {
    ...c,
    app,
    dir,
    dbPath,
    url,
    p: (path) => tenantPath() + path,
    async close(opts = {}) {
      await app.close();
      if (!opts.keepFiles) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A subscriber body with test-friendly retry timings; override any field. */
export function subscriberBody(webhookUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'test subscriber',
    webhook_url: webhookUrl,
    association: { company_id: 1, criteria: 'ALL' },
    events: [{ slug: 'company/product/create/v1' }],
    retry_policy: { max_attempts: 5, initial_backoff_ms: 100, max_backoff_ms: 1000 },
    timeout_ms: 2000,
    ...overrides,
  };
}

/** Polls `fn` until it returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
