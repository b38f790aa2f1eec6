// EXPLAIN of the PostgreSQL adapter's delivery-path statements (claim, dueSubscribers, recordAttempts) on a queue of
// the size docs/postgres.md describes. Not part of the product; run by hand:
//
//   node --import tsx scripts/explain-postgres.ts            (HOOKD_EXPLAIN_URL picks another server)
//
// It creates a database of its own (hookd_explain_<random>), lets the store's migrations build the schema, fills it
// with SQL (INSERT … SELECT, seconds instead of the minutes publishing through the store would take), explains each
// statement three times inside BEGIN … ROLLBACK, and drops the database at the end, also on error.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_RETRY_POLICY } from '../src/domain/types.ts';
import { STATEMENTS } from '../src/store/postgres/dispatch.ts';
import { openPostgresStore } from '../src/store/postgres/index.ts';

const SERVER = process.env.HOOKD_EXPLAIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = `hookd_explain_${randomBytes(4).toString('hex')}`;
const T0 = 1_800_000_000_000; // event n is created at T0 + n ms
const NOW = T0 + 200_001; // the explaining node's clock: every queued delivery is due
const TENANT = { organizationId: 'org_explain', extensionId: 'ext_explain' };
const SUBSCRIBERS = 100; // 10 per company; an event of company c goes to its 10 subscribers
const EVENTS = 100_000; // × 10 subscribers = 1 000 000 deliveries

// The statements dispatch.ts runs, imported rather than copied, so this always explains what ships.
const CLAIM = STATEMENTS.claim.text;
const RECORD = STATEMENTS.record.text;
const DUE = STATEMENTS.due;

// The data, in the shape of docs/postgres.md: the older half of the events delivered (SUCCESS, one attempts row each,
// no queue row), the newer half queued (PENDING, every tenth of each subscriber's FAILED, due a minute later, with one
// failed attempt behind it). deliveries.body stays NULL (no reducer), so a claim reads the body from events.
const FILL = [
  `INSERT INTO events (seq, id, organization_id, extension_id, company_id, slug, body, created_at)
   SELECT n, 'evt_' || n, $1, $2, 1 + n % 10, 'company/order/create/v1',
     '{"order":' || n || ',"items":[{"sku":"A-1","qty":2}],"note":"explain"}', ${T0} + n
   FROM generate_series(1, ${EVENTS}) n`,
  `INSERT INTO deliveries (event_seq, event_id, subscriber_id, organization_id, extension_id, company_id, event_slug,
     status, next_attempt_at, attempt_count, run_attempts, run_started_at, last_attempt_at, last_response_code,
     last_response_time, last_error, created_at)
   SELECT e.seq, e.id, s.id, $1, $2, e.company_id, e.slug, x.status,
     CASE x.status WHEN 'PENDING' THEN e.created_at WHEN 'FAILED' THEN e.created_at + 60000 END,
     t.tried, t.tried, CASE WHEN t.tried = 1 THEN e.created_at END, CASE WHEN t.tried = 1 THEN e.created_at + 20 END,
     CASE x.status WHEN 'SUCCESS' THEN 200 WHEN 'FAILED' THEN 500 END, CASE WHEN t.tried = 1 THEN 20 END,
     CASE WHEN x.status = 'FAILED' THEN 'HTTP 500' END, e.created_at
   FROM events e JOIN subscribers s ON s.company_id = e.company_id
   CROSS JOIN LATERAL (VALUES (CASE WHEN e.seq <= ${EVENTS / 2} THEN 'SUCCESS'
     WHEN e.seq / 10 % 10 = 0 THEN 'FAILED' ELSE 'PENDING' END)) x(status)
   CROSS JOIN LATERAL (VALUES ((x.status <> 'PENDING')::int)) t(tried)
   ORDER BY e.seq, s.id`,
  `INSERT INTO delivery_queue (delivery_id, subscriber_id, next_attempt_at, attempt_count, run_attempts, run_started_at)
   SELECT id, subscriber_id, next_attempt_at, attempt_count, run_attempts, run_started_at
   FROM deliveries WHERE status IN ('PENDING', 'FAILED')`,
  `INSERT INTO attempts (delivery_id, subscriber_id, organization_id, extension_id, company_id, event_slug, attempt,
     attempted_at, response_code, duration_ms, response_body, error)
   SELECT id, subscriber_id, organization_id, extension_id, company_id, event_slug, 1, last_attempt_at,
     last_response_code, last_response_time, '', last_error
   FROM deliveries WHERE attempt_count = 1 ORDER BY id`,
];

// After VACUUM ANALYZE: another node holds the first 50 queued deliveries of every subscriber (in due order) in
// flight, so each claim has to step over them, as on a busy dispatcher.
const LEASE_OTHER = `
  UPDATE delivery_queue q SET lease_owner = 'node-other', lease_until = ${NOW + 60_000}
  FROM (SELECT delivery_id, row_number() OVER (PARTITION BY subscriber_id ORDER BY next_attempt_at, delivery_id) AS n
        FROM delivery_queue WHERE next_attempt_at IS NOT NULL) h
  WHERE q.delivery_id = h.delivery_id AND h.n <= 50`;

const SIZES = `
  SELECT c.relname AS name, CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' END AS kind,
    round(pg_relation_size(c.oid) / 1048576.0, 1) AS mb
  FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
  WHERE c.relname IN ('deliveries', 'delivery_queue', 'events', 'attempts')
     OR i.indrelid IN ('deliveries'::regclass, 'delivery_queue'::regclass)
  ORDER BY coalesce(i.indrelid, c.oid)::regclass::text, c.relkind DESC, c.relname`;

// The claim a dispatcher makes: 10 subscribers × 50 deliveries, leases of 30 s. Parameters as dispatch.ts passes them.
const claimValues = (owner: string) => [
  Array.from({ length: 10 }, (_, i) => i + 1),
  Array(10).fill(50),
  Array(10).fill(NOW + 30_000),
  NOW,
  owner,
];

type Step = (c: pg.Client) => Promise<{ text: string; values: unknown[] }>;

/**
 * Runs EXPLAIN ANALYZE three times, each in a transaction rolled back; answers the plans and execution times. The
 * values are bound, so PostgreSQL plans with them (a custom plan, as for the first runs of hookd's named statements).
 */
async function explainThrice(c: pg.Client, step: Step) {
  const runs: { plan: string; ms: number }[] = [];
  for (let i = 0; i < 3; i++) {
    await c.query('BEGIN');
    try {
      const { text, values } = await step(c);
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, values);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      runs.push({ plan, ms: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1]) });
    } finally {
      await c.query('ROLLBACK');
    }
  }
  return runs;
}

function report(title: string, runs: { plan: string; ms: number }[]) {
  console.log(`\n## ${title}\n\nExecution times: ${runs.map((r) => `${r.ms} ms`).join(', ')}\n`);
  console.log(`Plan of the last run:\n\n\`\`\`\n${runs.at(-1)!.plan}\n\`\`\``);
}

async function main(c: pg.Client, url: string) {
  // The real migrations (001–…), through the store, then a subscriber row per subscriber as the API would save it.
  const store = await openPostgresStore(url, { poolSize: 4 });
  try {
    for (let n = 1; n <= SUBSCRIBERS; n++) {
      await store.createSubscriber(TENANT, {
        name: `subscriber ${n}`, webhook_url: `https://hooks.example.com/${n}`,
        association: { company_id: Math.ceil(n / 10), application_id: [], criteria: 'ALL' },
        events: [{ slug: 'company/order/create/v1', filters: null, reducer: null }],
        custom_headers: {}, auth_meta: { type: 'hmac', secret: `whsec_explain_${n}` }, email_id: null,
        status: 'active', retry_policy: { ...DEFAULT_RETRY_POLICY }, timeout_ms: 5000, max_in_flight: 100,
      }, T0);
    }
  } finally {
    await store.close();
  }

  const started = Date.now();
  // $1, $2 are the tenant, in the statements that name it.
  for (const sql of FILL) await c.query(sql, sql.includes('$1') ? [TENANT.organizationId, TENANT.extensionId] : []);
  await c.query("SELECT setval(pg_get_serial_sequence('events', 'seq'), (SELECT max(seq) FROM events))");
  await c.query('VACUUM ANALYZE');
  const leased = (await c.query(LEASE_OTHER)).rowCount;
  console.log(`# EXPLAIN on ${DB}\n\nFilled in ${((Date.now() - started) / 1000).toFixed(0)} s; node-other leases ${leased}.`);
  const shape = await c.query(`SELECT status, count(*)::int AS n FROM deliveries GROUP BY status ORDER BY status`);
  const queue = await c.query(`SELECT count(*)::int AS rows, count(lease_owner)::int AS leased FROM delivery_queue`);
  console.log(`deliveries: ${shape.rows.map((r) => `${r.status} ${r.n}`).join(', ')}; delivery_queue: ${JSON.stringify(queue.rows[0])}`);

  console.log('\n## Sizes (pg_relation_size)\n\n| relation | kind | MB |\n|---|---|---|');
  for (const r of (await c.query(SIZES)).rows) console.log(`| ${r.name} | ${r.kind} | ${r.mb} |`);

  // As hookd's connections run (db.ts): JIT would compile the claim's expressions for longer than it runs.
  await c.query('SET jit = off');
  report('(a) CLAIM, 10 subscribers × 50', await explainThrice(c, async () => ({ text: CLAIM, values: claimValues('node-explain') })));
  report('(b) DUE', await explainThrice(c, async () => ({ text: DUE, values: [] })));
  // (c) 500 successes of deliveries this node leased a moment ago, in the same transaction (the claim is not explained).
  report('(c) RECORD, 500 successes', await explainThrice(c, async (client) => {
    const claimed = (await client.query(CLAIM, claimValues('node-explain'))).rows.filter((r) => r.id !== null);
    if (claimed.length !== 500) throw new Error(`claimed ${claimed.length}, expected 500`);
    const all = <T>(v: T) => claimed.map(() => v);
    return { text: RECORD, values: [
      'node-explain', claimed.map((r) => r.id), all('SUCCESS'), claimed.map((r) => Number(r.attempt_count) + 1),
      all(NOW + 100), claimed.map((r) => r.run_started_at ?? NOW), all(12.5), all(200), all(''), all(null), all(null),
    ] };
  }));
}

const admin = new pg.Client({ connectionString: SERVER });
await admin.connect();
await admin.query(`CREATE DATABASE ${DB}`);
const url = new URL(SERVER);
url.pathname = `/${DB}`;
const client = new pg.Client({ connectionString: url.toString() });
try {
  await client.connect();
  await main(client, url.toString());
} catch (error) {
  process.exitCode = 1;
  console.error(error);
} finally {
  await client.end().catch(() => {});
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
}
