// The one place that reads the environment: env → a typed, validated Config passed down everywhere.
export type Role = 'all' | 'api' | 'dispatcher';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  /** PostgreSQL connections this process may open (HOOKD_DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  allowPrivateNetworks: boolean;
  role: Role;
  logLevel: string;
  smtpUrl: string | undefined;
  retentionDays: number;
  /** Upper bound on attempts in flight across all subscribers of this process. */
  dispatchConcurrency: number;
  /** Added to a subscriber's timeout_ms to form the lease of one attempt: a lease must outlast its attempt. */
  leaseMarginMs: number;
  /** How long SIGTERM waits for in-flight attempts before handing their leases back. */
  shutdownGraceMs: number;
  /** Events per second one organization may publish (burst: twice that); 0 turns the limit off. */
  publishRateLimit: number;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function databaseUrl(env: Env): string {
  const raw = env.HOOKD_DATABASE_URL?.trim() || 'sqlite:./data/hookd.db';
  if (raw.startsWith('sqlite:')) {
    if (raw.length === 'sqlite:'.length) throw new ConfigError('HOOKD_DATABASE_URL "sqlite:" needs a file path, e.g. sqlite:./data/hookd.db');
    return raw;
  }
  if (/^postgres(ql)?:\/\//.test(raw)) return raw;
  throw new ConfigError(`HOOKD_DATABASE_URL must start with sqlite: or postgres://, got "${raw.replace(/\/\/[^@]*@/, '//***@')}"`);
}

export function loadConfig(env: Env = process.env): Config {
  const smtp = env.HOOKD_SMTP_URL?.trim();
  if (smtp && !/^smtps?:\/\//.test(smtp)) throw new ConfigError('HOOKD_SMTP_URL must start with smtp:// or smtps://');
  return {
    port: integer(env, 'HOOKD_PORT', 8080, 0, 65535),
    host: env.HOOKD_HOST?.trim() || '127.0.0.1',
    databaseUrl: databaseUrl(env),
    databasePoolSize: integer(env, 'HOOKD_DATABASE_POOL_SIZE', 10, 1, 200),
    allowPrivateNetworks: boolean(env, 'HOOKD_ALLOW_PRIVATE_NETWORKS', false),
    role: oneOf(env, 'HOOKD_ROLE', 'all', ['all', 'api', 'dispatcher'] as const),
    logLevel: oneOf(env, 'HOOKD_LOG_LEVEL', 'info', LOG_LEVELS),
    smtpUrl: smtp || undefined,
    retentionDays: integer(env, 'HOOKD_RETENTION_DAYS', 30, 1, 36500),
    dispatchConcurrency: integer(env, 'HOOKD_DISPATCH_CONCURRENCY', 512, 1, 100000),
    leaseMarginMs: integer(env, 'HOOKD_LEASE_MARGIN_MS', 5000, 100, 3600000),
    shutdownGraceMs: integer(env, 'HOOKD_SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    publishRateLimit: integer(env, 'HOOKD_PUBLISH_RATE_LIMIT', 5000, 0, 10_000_000),
  };
}

/** Config for tests and embedding: defaults overridden by the given fields, no environment read. */
export function configWith(overrides: Partial<Config>): Config {
  return { ...loadConfig({}), ...overrides };
}
