// The PostgreSQL connection pool, transactions with retry on the SQLSTATEs worth retrying, and a placeholder builder.
import pg from 'pg';

// BIGINT (ids, epoch ms, count(*)) and NUMERIC (sum of a BIGINT) arrive as strings by default, because they can exceed
// 2^53. hookd's ids and times never come near that, so they are numbers here, for this pool only (not pg's globals).
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * No JIT compilation on hookd's connections: on a table of a million deliveries the planner's cost estimate of a claim
 * passes jit_above_cost, and compiling its expressions took 35–50 ms of a claim that runs in 6–10 ms without
 * (docs/postgres.md); hookd's statements are short and none gains from JIT. Set at connection start (the `options`
 * startup parameter), added to any `options` the URL gives, which pg would otherwise let override it.
 */
function withoutJit(url: string): { connectionString: string; options: string } {
  const NO_JIT = '-c jit=off';
  if (!/[?&]options=/.test(url)) return { connectionString: url, options: NO_JIT };
  // URL cannot parse every libpq URL (postgres://user@/db?host=/socket/dir); pg can, and then its options win.
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, options: NO_JIT };
  }
  const given = parsed.searchParams.get('options') ?? '';
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), options: `${given} ${NO_JIT}`.trim() };
}

/**
 * A statement of the delivery path (publish, claim, record), run thousands of times a minute: named, so that each
 * connection has PostgreSQL parse and analyse it once, and after five runs the server may keep a generic plan instead
 * of planning every run. Parsing and planning these statements was about a fifth of PostgreSQL's CPU on the bench
 * (perf, docs/postgres.md). A pooler in transaction mode in front of PostgreSQL would break named statements.
 */
export const prepared = (name: string, text: string): { name: string; text: string } => ({ name: `hookd_${name}`, text });

export function createPool(url: string, poolSize: number): pg.Pool {
  const pool = new pg.Pool({
    ...withoutJit(url),
    max: poolSize,
    types,
    // A database that does not answer fails the call after 5 s instead of queueing it forever.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'hookd',
  });
  // An idle connection dropped by the server (restart, failover) is reported here; without a listener Node would crash.
  // The pool has already discarded it and the next query opens a fresh one.
  pool.on('error', () => {});
  return pool;
}

/** SQLSTATEs after which the whole transaction can simply run again (graphile-worker keeps the same table). */
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected: two batches locked the same rows in different orders; one is rolled back
]);
const MAX_TRIES = 5;

/**
 * A connection checked out of the pool, guarded while it is out. pg-pool listens for a client's 'error' event only while
 * the client is idle in the pool; a checked-out client whose server goes away (restart, failover, `pg_ctl stop -m
 * immediate`) emits 'error' with nobody listening, and Node ends the process for that (measured: a transaction in
 * progress during an immediate stop ended the process). The guard swallows the event: the statement in progress, or the
 * next one, fails with the error instead, and `release()` closes a connection that saw one instead of pooling it again.
 */
export async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; release(broken?: boolean): void }> {
  const client = await pool.connect();
  let failed = false;
  const onError = () => {
    failed = true;
  };
  client.on('error', onError);
  return {
    client,
    release(broken = false) {
      client.off('error', onError);
      client.release(broken || failed);
    },
  };
}

/** Runs `work` in one transaction on one connection, again from the start when it fails with a retryable SQLSTATE. */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { client, release } = await checkout(pool);
    // A connection that cannot even roll back is broken: release(true) closes it instead of pooling it again.
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = await client.query('ROLLBACK').then(() => false, () => true);
      const code = (error as { code?: string }).code;
      if (attempt >= MAX_TRIES || code === undefined || !RETRYABLE.has(code)) throw error;
    } finally {
      release(broken);
    }
  }
}

/** Builds `$n` placeholders for a statement whose WHERE clause depends on the query. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
