// The PostgreSQL adapter: a pg.Pool shared by one module per concern, for any number of hookd processes on one database.
import type pg from 'pg';
import type { Store } from '../port.ts';
import { subscribersToWake } from '../wake.ts';
import { postgresApiKeys } from './api-keys.ts';
import { createPool } from './db.ts';
import { postgresDeliveries } from './deliveries.ts';
import { postgresDispatch } from './dispatch.ts';
import { postgresEvents } from './events.ts';
import { postgresLifecycle } from './lifecycle.ts';
import { migratePostgres } from './migrate.ts';
import { Notifier, notifyChanged, notifyWork } from './notifier.ts';
import { postgresReports } from './reports.ts';
import { postgresSubscribers } from './subscribers.ts';

export interface PostgresStoreOptions {
  /** Connections this process may open. */
  poolSize: number;
}

/** Connects, applies migrations (under an advisory lock) and returns the Store. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions): Promise<Store> {
  const pool = createPool(url, options.poolSize);
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  const store = new PostgresStore(pool);
  const notifier = new Notifier(
    url,
    (ids) => store.workNotified(ids),
    () => store.changeNotified(),
  );
  await notifier.start().catch(() => {}); // a hint only: without it the dispatcher's rescan still finds the work
  store.notifier = notifier;
  return store;
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly listeners: (() => void)[] = [];
  private readonly workListeners: ((ids: number[] | 'all') => void)[] = [];
  notifier: Notifier | undefined;
  private closed = false;
  private readonly subscribers;
  private readonly events;
  private readonly deliveries;
  private readonly dispatch;
  private readonly apiKeys;
  private readonly lifecycle;
  private readonly reports;

  constructor(private readonly pool: pg.Pool) {
    this.subscribers = postgresSubscribers(pool, () => this.subscribersChanged());
    this.events = postgresEvents(pool);
    this.deliveries = postgresDeliveries(pool);
    this.dispatch = postgresDispatch(pool, () => this.subscribersChanged());
    this.lifecycle = postgresLifecycle(pool);
    this.reports = postgresReports(pool);
    this.apiKeys = postgresApiKeys(pool);
  }

  /**
   * Every subscriber or subscription change saved through this process ends here, after its commit. For now it tells
   * this process's listeners only; LISTEN/NOTIFY across nodes hooks in here.
   */
  private subscribersChanged(): void {
    for (const listener of this.listeners) listener();
    void notifyChanged(this.pool).catch(() => {});
  }

  /** A change saved on any node (this one included): drop what the caches hold. */
  changeNotified(): void {
    for (const listener of this.listeners) listener();
  }

  workNotified(ids: number[] | 'all'): void {
    for (const listener of this.workListeners) listener(ids);
  }

  private tellWork(ids: Iterable<number> | 'all'): void {
    void notifyWork(this.pool, ids).catch(() => {});
  }

  async migrate() {
    await migratePostgres(this.pool);
  }
  async ping() {
    await this.pool.query('SELECT 1');
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.notifier?.close();
    await this.pool.end();
  }
  onSubscribersChanged(listener: () => void) {
    this.listeners.push(listener);
  }
  onWork(listener: (ids: number[] | 'all') => void) {
    this.workListeners.push(listener);
  }

  createSubscriber: Store['createSubscriber'] = (t, input, now) => this.subscribers.create(t, input, now);
  getSubscriber: Store['getSubscriber'] = (t, id) => this.subscribers.get(t, id);
  getSubscriberForDispatch: Store['getSubscriberForDispatch'] = (id) => this.subscribers.getForDispatch(id);
  listSubscribers: Store['listSubscribers'] = (t, q) => this.subscribers.list(t, q);
  replaceSubscriber: Store['replaceSubscriber'] = (t, id, input, now) => this.subscribers.replace(t, id, input, now);
  setSubscriberStatus: Store['setSubscriberStatus'] = (t, id, s, now) => this.subscribers.setStatus(t, id, s, now);
  deleteSubscriber: Store['deleteSubscriber'] = (t, id, now) => this.subscribers.remove(t, id, now);
  saveSubscriptionRules: Store['saveSubscriptionRules'] = (t, id, slug, changes, now) => this.subscribers.saveRules(t, id, slug, changes, now);
  routableSubscribers: Store['routableSubscribers'] = (t, companyId) => this.subscribers.routable(t, companyId);

  publish: Store['publish'] = async (t, events, now) => {
    const results = await this.events.publish(t, events, now);
    // Committed: this process's dispatcher is told at once, the others by NOTIFY (which this one ignores).
    const woken = subscribersToWake(events, results);
    if (woken.size > 0) {
      this.workNotified([...woken]);
      this.tellWork(woken);
    }
    return results;
  };
  getEvent: Store['getEvent'] = (t, id) => this.events.get(t, id);

  listDeliveries: Store['listDeliveries'] = (t, q) => this.deliveries.list(t, q);
  getDelivery: Store['getDelivery'] = (t, id) => this.deliveries.get(t, id);
  retryDelivery: Store['retryDelivery'] = async (t, id, now) => {
    const outcome = await this.deliveries.retry(t, id, now);
    if (outcome === 'queued') this.tellWork('all');
    return outcome;
  };

  requeueDeliveries: Store['requeueDeliveries'] = async (t, q, now) => {
    const result = await this.lifecycle.requeue(t, q, now);
    if (result.queued > 0) this.tellWork('all');
    return result;
  };
  rotateSecret: Store['rotateSecret'] = async (t, id, secret, until, now) => {
    const ok = await this.lifecycle.rotate(t, id, secret, until, now);
    if (ok) this.subscribersChanged();
    return ok;
  };
  purgeExpired: Store['purgeExpired'] = (cutoff, batch, now) => this.lifecycle.purge(cutoff, batch, now);

  responseTimeReport: Store['responseTimeReport'] = (t, q) => this.reports.responseTime(t, q);
  deliverySummary: Store['deliverySummary'] = (t, q) => this.reports.summary(t, q);
  deliveryTimeSeries: Store['deliveryTimeSeries'] = (t, q) => this.reports.timeSeries(t, q);

  claim: Store['claim'] = (requests, owner, now) => this.dispatch.claim(requests, owner, now);
  recordAttempts: Store['recordAttempts'] = (results, owner) => this.dispatch.record(results, owner);
  releaseLeases: Store['releaseLeases'] = (owner, _now, ids) => this.dispatch.release(owner, ids);
  dueSubscribers: Store['dueSubscribers'] = () => this.dispatch.due();
  queueDepth: Store['queueDepth'] = () => this.dispatch.queueDepth();

  insertApiKey: Store['insertApiKey'] = (r, now) => this.apiKeys.insert(r, now);
  findApiKey: Store['findApiKey'] = (id) => this.apiKeys.find(id);
  listApiKeys: Store['listApiKeys'] = (org) => this.apiKeys.list(org);
  revokeApiKey: Store['revokeApiKey'] = (id, now) => this.apiKeys.revoke(id, now);
  countActiveApiKeys: Store['countActiveApiKeys'] = () => this.apiKeys.countActive();
}
