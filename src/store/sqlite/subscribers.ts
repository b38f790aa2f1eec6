// Subscribers and their event subscriptions in SQLite.
import type Database from 'better-sqlite3';
import type { Leases } from './leases.ts';
import type { Paged, Subscriber, SubscriberInput, SubscriberStatus, Tenant } from '../../domain/types.ts';
import type { DispatchSubscriber, SubscriberQuery } from '../port.ts';
import { toSubscriber, type SubscriberRow, type SubscriptionRow } from './rows.ts';

/** A subscriber's queue parked (RESYNC), but for the deliveries in flight (a JSON array of ids): deactivation, blocks. */
export const PARK_QUEUED =
  "UPDATE deliveries INDEXED BY deliveries_due SET status = 'RESYNC', next_attempt_at = NULL WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED') AND id NOT IN (SELECT value FROM json_each(?))";

export function sqliteSubscribers(db: Database.Database, leases: Leases, changed: () => void) {
  const insert = db.prepare(`
    INSERT INTO subscribers (organization_id, extension_id, company_id, name, webhook_url, association, custom_headers,
      auth_type, secret, email_id, status, retry_policy, timeout_ms, max_in_flight, created_at, updated_at)
    VALUES (@organization_id, @extension_id, @company_id, @name, @webhook_url, @association, @custom_headers,
      @auth_type, @secret, @email_id, @status, @retry_policy, @timeout_ms, @max_in_flight, @now, @now)`);
  const update = db.prepare(`
    UPDATE subscribers SET company_id = @company_id, name = @name, webhook_url = @webhook_url, association = @association,
      custom_headers = @custom_headers, auth_type = @auth_type, secret = @secret, email_id = @email_id, status = @status,
      retry_policy = @retry_policy, timeout_ms = @timeout_ms, max_in_flight = @max_in_flight, updated_at = @now
    WHERE id = @id AND organization_id = @organization_id AND extension_id = @extension_id AND deleted_at IS NULL`);
  const insertSubscription = db.prepare(
    'INSERT INTO subscriber_events (subscriber_id, slug, position, filters, reducer) VALUES (?, ?, ?, ?, ?)',
  );
  const deleteSubscriptions = db.prepare('DELETE FROM subscriber_events WHERE subscriber_id = ?');
  const selectSubscriptions = db.prepare('SELECT * FROM subscriber_events WHERE subscriber_id = ? ORDER BY position');
  const selectOne = db.prepare(
    'SELECT * FROM subscribers WHERE id = ? AND organization_id = ? AND extension_id = ? AND deleted_at IS NULL',
  );
  const selectAny = db.prepare('SELECT * FROM subscribers WHERE id = ?');
  const selectCompany = db.prepare(
    'SELECT * FROM subscribers WHERE organization_id = ? AND extension_id = ? AND company_id = ? AND deleted_at IS NULL',
  );
  const setStatus = db.prepare(
    'UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ? AND organization_id = ? AND extension_id = ? AND deleted_at IS NULL',
  );
  const markDeleted = db.prepare(
    'UPDATE subscribers SET deleted_at = ?, updated_at = ? WHERE id = ? AND organization_id = ? AND extension_id = ? AND deleted_at IS NULL',
  );
  // Parking and un-parking move whole queues in one statement each. INDEXED BY: without statistics the planner may
  // otherwise walk every finished delivery the subscriber ever had (deliveries_by_subscriber_finished) to find its queue.
  const parkQueued = db.prepare(PARK_QUEUED);
  const requeueParked = db.prepare(
    "UPDATE deliveries INDEXED BY deliveries_resync SET status = 'PENDING', next_attempt_at = ?, run_attempts = 0, run_started_at = NULL WHERE subscriber_id = ? AND status = 'RESYNC'",
  );
  // Cancelling also revokes leases: a late result of an attempt in flight must not re-queue (FAILED) or park (RESYNC)
  // a delivery of a deleted subscriber. Queued and parked rows live in different indexes: two statements.
  const cancelQueued = db.prepare(
    "UPDATE deliveries INDEXED BY deliveries_due SET status = 'DISABLED', next_attempt_at = NULL, lease_owner = NULL, last_error = 'subscriber deleted' WHERE subscriber_id = ? AND status IN ('PENDING', 'FAILED')",
  );
  const cancelParked = db.prepare(
    "UPDATE deliveries INDEXED BY deliveries_resync SET status = 'DISABLED', next_attempt_at = NULL, lease_owner = NULL, last_error = 'subscriber deleted' WHERE subscriber_id = ? AND status = 'RESYNC'",
  );

  const selectSubscription = db.prepare('SELECT * FROM subscriber_events WHERE subscriber_id = ? AND slug = ?');
  const setFilters = db.prepare('UPDATE subscriber_events SET filters = ? WHERE subscriber_id = ? AND slug = ?');
  const setReducer = db.prepare('UPDATE subscriber_events SET reducer = ? WHERE subscriber_id = ? AND slug = ?');
  const touch = db.prepare('UPDATE subscribers SET updated_at = ? WHERE id = ?');

  const saveRules = db.transaction(
    (tenant: Tenant, id: number, slug: string, changes: { filters?: unknown | null; reducer?: unknown | null }, now: number) => {
      if (!selectOne.get(id, tenant.organizationId, tenant.extensionId)) return null;
      if (!selectSubscription.get(id, slug)) return null;
      const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
      if (changes.filters !== undefined) setFilters.run(json(changes.filters), id, slug);
      if (changes.reducer !== undefined) setReducer.run(json(changes.reducer), id, slug);
      touch.run(now, id);
      const row = selectSubscription.get(id, slug) as SubscriptionRow;
      return { slug: row.slug, filters: row.filters === null ? null : JSON.parse(row.filters), reducer: row.reducer === null ? null : JSON.parse(row.reducer) };
    },
  );

  const hydrate = (row: SubscriberRow): Subscriber =>
    toSubscriber(row, selectSubscriptions.all(row.id) as SubscriptionRow[]);

  const columns = (tenant: Tenant, input: SubscriberInput, now: number) => ({
    organization_id: tenant.organizationId,
    extension_id: tenant.extensionId,
    company_id: input.association.company_id,
    name: input.name,
    webhook_url: input.webhook_url,
    association: JSON.stringify(input.association),
    custom_headers: JSON.stringify(input.custom_headers),
    auth_type: input.auth_meta.type,
    secret: input.auth_meta.secret,
    email_id: input.email_id,
    status: input.status,
    retry_policy: JSON.stringify(input.retry_policy),
    timeout_ms: input.timeout_ms,
    max_in_flight: input.max_in_flight,
    now,
  });

  const writeSubscriptions = (id: number, input: SubscriberInput) => {
    deleteSubscriptions.run(id);
    input.events.forEach((e, i) =>
      insertSubscription.run(id, e.slug, i, e.filters == null ? null : JSON.stringify(e.filters), e.reducer == null ? null : JSON.stringify(e.reducer)),
    );
  };

  const create = db.transaction((tenant: Tenant, input: SubscriberInput, now: number): Subscriber => {
    const id = Number(insert.run(columns(tenant, input, now)).lastInsertRowid);
    writeSubscriptions(id, input);
    return hydrate(selectAny.get(id) as SubscriberRow);
  });

  const replace = db.transaction((tenant: Tenant, id: number, input: SubscriberInput, now: number): Subscriber | null => {
    const before = selectOne.get(id, tenant.organizationId, tenant.extensionId) as SubscriberRow | undefined;
    if (!before) return null;
    update.run({ ...columns(tenant, input, now), id });
    writeSubscriptions(id, input);
    applyStatusChange(id, before.status as SubscriberStatus, input.status, now);
    return hydrate(selectAny.get(id) as SubscriberRow);
  });

  function applyStatusChange(id: number, from: SubscriberStatus, to: SubscriberStatus, now: number) {
    if (to === 'active' && from !== 'active') requeueParked.run(now, id);
    if (to !== 'active' && from === 'active') parkQueued.run(id, JSON.stringify(leases.idsOf(id))); // in flight: left to its attempt
  }

  const changeStatus = db.transaction((tenant: Tenant, id: number, status: SubscriberStatus, now: number): boolean => {
    const before = selectOne.get(id, tenant.organizationId, tenant.extensionId) as SubscriberRow | undefined;
    if (!before) return false;
    setStatus.run(status, now, id, tenant.organizationId, tenant.extensionId);
    applyStatusChange(id, before.status as SubscriberStatus, status, now);
    return true;
  });

  const remove = db.transaction((tenant: Tenant, id: number, now: number): boolean => {
    if (markDeleted.run(now, now, id, tenant.organizationId, tenant.extensionId).changes === 0) return false;
    cancelQueued.run(id);
    cancelParked.run(id);
    leases.dropSubscriber(id);
    return true;
  });

  function list(tenant: Tenant, q: SubscriberQuery): Paged<Subscriber> {
    const where = ['organization_id = ?', 'extension_id = ?', 'deleted_at IS NULL'];
    const args: (string | number)[] = [tenant.organizationId, tenant.extensionId];
    if (q.companyId !== undefined) (where.push('company_id = ?'), args.push(q.companyId));
    if (q.status !== undefined) (where.push('status = ?'), args.push(q.status));
    const clause = where.join(' AND ');
    const total = (db.prepare(`SELECT count(*) AS n FROM subscribers WHERE ${clause}`).get(...args) as { n: number }).n;
    const rows = db
      .prepare(`SELECT * FROM subscribers WHERE ${clause} ORDER BY id LIMIT ? OFFSET ?`)
      .all(...args, q.pageSize, (q.pageNo - 1) * q.pageSize) as SubscriberRow[];
    return {
      items: rows.map(hydrate),
      page: { current: q.pageNo, size: q.pageSize, item_total: total, has_next: q.pageNo * q.pageSize < total, type: 'number' },
    };
  }

  return {
    create: (tenant: Tenant, input: SubscriberInput, now: number) => {
      const s = create.immediate(tenant, input, now);
      changed();
      return s;
    },
    get(tenant: Tenant, id: number): Subscriber | null {
      const row = selectOne.get(id, tenant.organizationId, tenant.extensionId) as SubscriberRow | undefined;
      return row ? hydrate(row) : null;
    },
    getForDispatch(id: number): DispatchSubscriber | null {
      const row = selectAny.get(id) as SubscriberRow | undefined;
      return row
        ? { ...hydrate(row), deleted: row.deleted_at !== null, previousSecret: row.previous_secret, previousSecretUntil: row.previous_secret_until }
        : null;
    },
    list,
    replace: (tenant: Tenant, id: number, input: SubscriberInput, now: number) => {
      const s = replace.immediate(tenant, id, input, now);
      if (s) changed();
      return s;
    },
    setStatus: (tenant: Tenant, id: number, status: SubscriberStatus, now: number) => {
      const ok = changeStatus.immediate(tenant, id, status, now);
      if (ok) changed();
      return ok;
    },
    remove: (tenant: Tenant, id: number, now: number) => {
      const ok = remove.immediate(tenant, id, now);
      if (ok) changed();
      return ok;
    },
    saveRules: (tenant: Tenant, id: number, slug: string, changes: { filters?: unknown | null; reducer?: unknown | null }, now: number) => {
      const saved = saveRules.immediate(tenant, id, slug, changes, now);
      if (saved) changed();
      return saved;
    },
    routable(tenant: Tenant, companyId: number): Subscriber[] {
      return (selectCompany.all(tenant.organizationId, tenant.extensionId, companyId) as SubscriberRow[]).map(hydrate);
    },
  };
}
