// Subscribers and their event subscriptions in PostgreSQL.
import type pg from 'pg';
import type { EventSubscription, Paged, Subscriber, SubscriberInput, SubscriberStatus, Tenant } from '../../domain/types.ts';
import type { DispatchSubscriber, SubscriberQuery } from '../port.ts';
import { Params, transaction } from './db.ts';
import { toSubscriber, type SubscriberRow, type SubscriptionRow } from './rows.ts';

type Queryable = pg.Pool | pg.PoolClient;
type RuleChanges = { filters?: unknown | null; reducer?: unknown | null };

const json = (v: unknown) => (v == null ? null : JSON.stringify(v));
const parseOrNull = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

const INSERT = `
  INSERT INTO subscribers (organization_id, extension_id, company_id, name, webhook_url, association, custom_headers,
    auth_type, secret, email_id, status, retry_policy, timeout_ms, max_in_flight, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
  RETURNING *`;
const UPDATE = `
  UPDATE subscribers SET company_id = $3, name = $4, webhook_url = $5, association = $6, custom_headers = $7,
    auth_type = $8, secret = $9, email_id = $10, status = $11, retry_policy = $12, timeout_ms = $13,
    max_in_flight = $14, updated_at = $15
  WHERE id = $16 AND organization_id = $1 AND extension_id = $2 AND deleted_at IS NULL
  RETURNING *`;
// Every subscription of one subscriber in one statement, in the order the input lists them.
const INSERT_SUBSCRIPTIONS = `
  INSERT INTO subscriber_events (subscriber_id, slug, position, filters, reducer)
  SELECT $1, slug, position - 1, filters, reducer
  FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS s(slug, filters, reducer, position)`;
const DELETE_SUBSCRIPTIONS = 'DELETE FROM subscriber_events WHERE subscriber_id = $1';
const SELECT_SUBSCRIPTIONS = 'SELECT * FROM subscriber_events WHERE subscriber_id = ANY($1::bigint[]) ORDER BY subscriber_id, position';
const SELECT_ONE = 'SELECT * FROM subscribers WHERE id = $1 AND organization_id = $2 AND extension_id = $3 AND deleted_at IS NULL';
// The row lock makes the status read before a change the one the change is applied to.
const LOCK_ONE = `${SELECT_ONE} FOR UPDATE`;
const SELECT_ANY = 'SELECT * FROM subscribers WHERE id = $1';
const SELECT_COMPANY =
  'SELECT * FROM subscribers WHERE organization_id = $1 AND extension_id = $2 AND company_id = $3 AND deleted_at IS NULL ORDER BY id';
const SET_STATUS = 'UPDATE subscribers SET status = $1, updated_at = $2 WHERE id = $3';
const MARK_DELETED = `
  UPDATE subscribers SET deleted_at = $1, updated_at = $1
  WHERE id = $2 AND organization_id = $3 AND extension_id = $4 AND deleted_at IS NULL`;
// Parking and un-parking move whole queues in one statement each, the queue rows (delivery_queue) and the deliveries'
// records together. Deliveries in flight are left to their attempt. Also used for the subscribers a batch of attempt
// results blocked.
export const PARK_QUEUED = `
  WITH parked AS (
    UPDATE delivery_queue SET next_attempt_at = NULL
    WHERE subscriber_id = ANY($1::bigint[]) AND next_attempt_at IS NOT NULL AND lease_owner IS NULL
    RETURNING delivery_id
  )
  UPDATE deliveries d SET status = 'RESYNC', next_attempt_at = NULL FROM parked p WHERE d.id = p.delivery_id`;
const REQUEUE_PARKED = `
  WITH requeued AS (
    UPDATE delivery_queue SET next_attempt_at = $1, run_attempts = 0, run_started_at = NULL
    WHERE subscriber_id = $2 AND next_attempt_at IS NULL
    RETURNING delivery_id
  )
  UPDATE deliveries d SET status = 'PENDING', next_attempt_at = $1, run_attempts = 0, run_started_at = NULL
  FROM requeued q WHERE d.id = q.delivery_id`;
// Cancelling also revokes leases: the queue rows go, so a late result of an attempt in flight finds no lease and can
// neither re-queue (FAILED) nor park (RESYNC) a delivery of a deleted subscriber.
const CANCEL_QUEUED = `
  WITH cancelled AS (DELETE FROM delivery_queue WHERE subscriber_id = $1 RETURNING delivery_id)
  UPDATE deliveries d SET status = 'DISABLED', next_attempt_at = NULL, last_error = 'subscriber deleted'
  FROM cancelled c WHERE d.id = c.delivery_id`;
// A rule left undefined keeps its value ($3/$5 false); null removes it. Only a live subscriber of the tenant qualifies.
const SAVE_RULES = `
  UPDATE subscriber_events AS se SET
    filters = CASE WHEN $3 THEN $4 ELSE se.filters END,
    reducer = CASE WHEN $5 THEN $6 ELSE se.reducer END
  FROM subscribers AS s
  WHERE se.subscriber_id = $1 AND se.slug = $2
    AND s.id = se.subscriber_id AND s.organization_id = $7 AND s.extension_id = $8 AND s.deleted_at IS NULL
  RETURNING se.*`;
const TOUCH = 'UPDATE subscribers SET updated_at = $1 WHERE id = $2';

function columns(tenant: Tenant, input: SubscriberInput, now: number): unknown[] {
  return [
    tenant.organizationId,
    tenant.extensionId,
    input.association.company_id,
    input.name,
    input.webhook_url,
    JSON.stringify(input.association),
    JSON.stringify(input.custom_headers),
    input.auth_meta.type,
    input.auth_meta.secret,
    input.email_id,
    input.status,
    JSON.stringify(input.retry_policy),
    input.timeout_ms,
    input.max_in_flight,
    now,
  ];
}

/** Subscribers with their subscriptions, read in one query for the whole list. */
async function hydrate(db: Queryable, rows: SubscriberRow[]): Promise<Subscriber[]> {
  if (rows.length === 0) return [];
  const { rows: subscriptions } = await db.query<SubscriptionRow>(SELECT_SUBSCRIPTIONS, [rows.map((r) => r.id)]);
  const bySubscriber = new Map<number, SubscriptionRow[]>();
  for (const s of subscriptions) {
    const list = bySubscriber.get(s.subscriber_id) ?? [];
    list.push(s);
    bySubscriber.set(s.subscriber_id, list);
  }
  return rows.map((row) => toSubscriber(row, bySubscriber.get(row.id) ?? []));
}

const hydrateOne = async (db: Queryable, row: SubscriberRow): Promise<Subscriber> => (await hydrate(db, [row]))[0]!;

async function writeSubscriptions(client: pg.PoolClient, id: number, input: SubscriberInput) {
  await client.query(DELETE_SUBSCRIPTIONS, [id]);
  if (input.events.length === 0) return;
  await client.query(INSERT_SUBSCRIPTIONS, [
    id,
    input.events.map((e) => e.slug),
    input.events.map((e) => json(e.filters)),
    input.events.map((e) => json(e.reducer)),
  ]);
}

async function applyStatusChange(client: pg.PoolClient, id: number, from: SubscriberStatus, to: SubscriberStatus, now: number) {
  if (to === 'active' && from !== 'active') await client.query(REQUEUE_PARKED, [now, id]);
  if (to !== 'active' && from === 'active') await client.query(PARK_QUEUED, [[id]]);
}

export function postgresSubscribers(pool: pg.Pool, changed: () => void) {
  /** Runs a write and tells the listeners when it changed something. */
  const notifying = async <T>(write: Promise<T>, changedIf: (result: T) => boolean): Promise<T> => {
    const result = await write;
    if (changedIf(result)) changed();
    return result;
  };

  const create = (tenant: Tenant, input: SubscriberInput, now: number): Promise<Subscriber> =>
    transaction(pool, async (client) => {
      const { rows } = await client.query<SubscriberRow>(INSERT, columns(tenant, input, now));
      const row = rows[0]!;
      await writeSubscriptions(client, row.id, input);
      return hydrateOne(client, row);
    });

  const replace = (tenant: Tenant, id: number, input: SubscriberInput, now: number): Promise<Subscriber | null> =>
    transaction(pool, async (client) => {
      const before = (await client.query<SubscriberRow>(LOCK_ONE, [id, tenant.organizationId, tenant.extensionId])).rows[0];
      if (!before) return null;
      const { rows } = await client.query<SubscriberRow>(UPDATE, [...columns(tenant, input, now), id]);
      await writeSubscriptions(client, id, input);
      await applyStatusChange(client, id, before.status as SubscriberStatus, input.status, now);
      return hydrateOne(client, rows[0]!);
    });

  const setStatus = (tenant: Tenant, id: number, status: SubscriberStatus, now: number): Promise<boolean> =>
    transaction(pool, async (client) => {
      const before = (await client.query<SubscriberRow>(LOCK_ONE, [id, tenant.organizationId, tenant.extensionId])).rows[0];
      if (!before) return false;
      await client.query(SET_STATUS, [status, now, id]);
      await applyStatusChange(client, id, before.status as SubscriberStatus, status, now);
      return true;
    });

  const remove = (tenant: Tenant, id: number, now: number): Promise<boolean> =>
    transaction(pool, async (client) => {
      const { rowCount } = await client.query(MARK_DELETED, [now, id, tenant.organizationId, tenant.extensionId]);
      if (!rowCount) return false;
      await client.query(CANCEL_QUEUED, [id]);
      return true;
    });

  const saveRules = (tenant: Tenant, id: number, slug: string, changes: RuleChanges, now: number): Promise<EventSubscription | null> =>
    transaction(pool, async (client) => {
      const { rows } = await client.query<SubscriptionRow>(SAVE_RULES, [
        id,
        slug,
        changes.filters !== undefined,
        json(changes.filters),
        changes.reducer !== undefined,
        json(changes.reducer),
        tenant.organizationId,
        tenant.extensionId,
      ]);
      const row = rows[0];
      if (!row) return null;
      await client.query(TOUCH, [now, id]);
      return { slug: row.slug, filters: parseOrNull(row.filters), reducer: parseOrNull(row.reducer) };
    });

  async function list(tenant: Tenant, q: SubscriberQuery): Promise<Paged<Subscriber>> {
    const p = new Params();
    const where = [`organization_id = ${p.add(tenant.organizationId)}`, `extension_id = ${p.add(tenant.extensionId)}`, 'deleted_at IS NULL'];
    if (q.companyId !== undefined) where.push(`company_id = ${p.add(q.companyId)}`);
    if (q.status !== undefined) where.push(`status = ${p.add(q.status)}`);
    const clause = where.join(' AND ');
    const total = (await pool.query<{ n: number }>(`SELECT count(*) AS n FROM subscribers WHERE ${clause}`, p.values)).rows[0]!.n;
    const { rows } = await pool.query<SubscriberRow>(
      `SELECT * FROM subscribers WHERE ${clause} ORDER BY id LIMIT $${p.values.length + 1} OFFSET $${p.values.length + 2}`,
      [...p.values, q.pageSize, (q.pageNo - 1) * q.pageSize],
    );
    return {
      items: await hydrate(pool, rows),
      page: { current: q.pageNo, size: q.pageSize, item_total: total, has_next: q.pageNo * q.pageSize < total, type: 'number' },
    };
  }

  return {
    create: (tenant: Tenant, input: SubscriberInput, now: number) => notifying(create(tenant, input, now), () => true),
    async get(tenant: Tenant, id: number): Promise<Subscriber | null> {
      const row = (await pool.query<SubscriberRow>(SELECT_ONE, [id, tenant.organizationId, tenant.extensionId])).rows[0];
      return row ? hydrateOne(pool, row) : null;
    },
    async getForDispatch(id: number): Promise<DispatchSubscriber | null> {
      const row = (await pool.query<SubscriberRow>(SELECT_ANY, [id])).rows[0];
      return row
        ? { ...(await hydrateOne(pool, row)), deleted: row.deleted_at !== null, previousSecret: row.previous_secret, previousSecretUntil: row.previous_secret_until }
        : null;
    },
    list,
    replace: (tenant: Tenant, id: number, input: SubscriberInput, now: number) => notifying(replace(tenant, id, input, now), (s) => s !== null),
    setStatus: (tenant: Tenant, id: number, status: SubscriberStatus, now: number) => notifying(setStatus(tenant, id, status, now), (ok) => ok),
    remove: (tenant: Tenant, id: number, now: number) => notifying(remove(tenant, id, now), (ok) => ok),
    saveRules: (tenant: Tenant, id: number, slug: string, changes: RuleChanges, now: number) =>
      notifying(saveRules(tenant, id, slug, changes, now), (saved) => saved !== null),
    async routable(tenant: Tenant, companyId: number): Promise<Subscriber[]> {
      const { rows } = await pool.query<SubscriberRow>(SELECT_COMPANY, [tenant.organizationId, tenant.extensionId, companyId]);
      return hydrate(pool, rows);
    },
  };
}
