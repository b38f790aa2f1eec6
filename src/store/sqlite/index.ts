// The SQLite adapter: one better-sqlite3 connection in WAL mode; every commit is fsynced before it returns.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../port.ts';
import { sqliteApiKeys } from './api-keys.ts';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.ts';
import { sqliteDeliveries } from './deliveries.ts';
import { sqliteDispatch } from './dispatch.ts';
import { DispatcherLock } from './dispatcher-lock.ts';
import { sqliteEvents } from './events.ts';
import { Leases } from './leases.ts';
import { sqliteLifecycle } from './lifecycle.ts';
import { migrateSqlite } from './migrate.ts';
import { sqliteReports } from './reports.ts';
import { sqliteSubscribers } from './subscribers.ts';
import { WalSync } from './wal-sync.ts';
import { WriteGate } from './write-gate.ts';

export function sqlitePath(databaseUrl: string): string {
  return databaseUrl.replace(/^sqlite:(\/\/)?/, '');
}

export interface SqliteOptions {
  /** The WAL checkpointer's interval and restart limit (checkpointer.ts); its defaults otherwise. */
  checkpoint?: CheckpointerOptions;
}

/** Opens the file (creating its folder), applies migrations and returns the Store. */
export function openSqliteStore(path: string, options: SqliteOptions = {}): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before publish answers 202 (DESIGN.md § Delivery semantics).
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // The queue's hot pages (due index, recent deliveries and attempts) stay in SQLite's own cache rather than being
  // read back through the OS for every claim.
  db.pragma('cache_size = -8192');
  migrateSqlite(db);
  if (path === ':memory:') return new SqliteStore(db);
  return new SqliteStore(db, new Checkpointer(db, path, options.checkpoint), new WalSync(`${path}-wal`));
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly listeners: (() => void)[] = [];
  private readonly workListeners: ((ids: number[] | 'all') => void)[] = [];
  private readonly subscribers;
  private readonly events;
  private readonly deliveries;
  private readonly dispatch;
  private readonly apiKeys;
  private readonly lifecycle;
  private readonly reports;
  private readonly leases = new Leases();
  private readonly lock;
  /** Closed while a batch publish's transaction is open across turns: see write-gate.ts and the calls that pass it. */
  private readonly gate = new WriteGate();

  constructor(
    private readonly db: Database.Database,
    private readonly checkpointer?: Checkpointer,
    walSync?: WalSync,
  ) {
    this.lock = new DispatcherLock(db);
    this.subscribers = sqliteSubscribers(db, this.leases, () => this.listeners.forEach((l) => l()));
    this.events = sqliteEvents(db, walSync, (ids) => this.workListeners.forEach((l) => l([...ids])), this.gate);
    this.deliveries = sqliteDeliveries(db, this.leases);
    this.dispatch = sqliteDispatch(db, this.leases, this.lock, () => this.listeners.forEach((l) => l()), this.gate);
    this.lifecycle = sqliteLifecycle(db, this.leases);
    this.reports = sqliteReports(db);
    this.apiKeys = sqliteApiKeys(db);
  }

  async migrate() {
    migrateSqlite(this.db);
  }
  async ping() {
    this.db.prepare('SELECT 1').get();
  }
  async close() {
    await this.events.flush();
    this.lock.release();
    // The checkpointer's connection closes first, so this one is the last and folds the WAL into the file.
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
  }
  onSubscribersChanged(listener: () => void) {
    this.listeners.push(listener);
  }
  // One process owns the file, so only this process's dispatcher is told: when a publish commits, before its sync.
  onWork(listener: (ids: number[] | 'all') => void) {
    this.workListeners.push(listener);
  }

  // Through the gate: every write (it would join an open publish's transaction) and every read of events, deliveries
  // and attempts (it would see a publish's rows before their commit). Not through it: what a publish and a claim need
  // while one is open, which reads only subscribers and keys (no publish writes them), and the claim itself.
  createSubscriber: Store['createSubscriber'] = (t, input, now) => this.gate.pass(() => this.subscribers.create(t, input, now));
  getSubscriber: Store['getSubscriber'] = async (t, id) => this.subscribers.get(t, id);
  getSubscriberForDispatch: Store['getSubscriberForDispatch'] = async (id) => this.subscribers.getForDispatch(id);
  listSubscribers: Store['listSubscribers'] = async (t, q) => this.subscribers.list(t, q);
  replaceSubscriber: Store['replaceSubscriber'] = (t, id, input, now) => this.gate.pass(() => this.subscribers.replace(t, id, input, now));
  setSubscriberStatus: Store['setSubscriberStatus'] = (t, id, s, now) => this.gate.pass(() => this.subscribers.setStatus(t, id, s, now));
  deleteSubscriber: Store['deleteSubscriber'] = (t, id, now) => this.gate.pass(() => this.subscribers.remove(t, id, now));
  saveSubscriptionRules: Store['saveSubscriptionRules'] = (t, id, slug, changes, now) =>
    this.gate.pass(() => this.subscribers.saveRules(t, id, slug, changes, now));
  routableSubscribers: Store['routableSubscribers'] = async (t, companyId) => this.subscribers.routable(t, companyId);

  publish: Store['publish'] = async (t, events, now) => this.events.publish(t, events, now);
  getEvent: Store['getEvent'] = (t, id) => this.gate.pass(() => this.events.get(t, id));

  listDeliveries: Store['listDeliveries'] = (t, q) => this.gate.pass(() => this.deliveries.list(t, q));
  getDelivery: Store['getDelivery'] = (t, id) => this.gate.pass(() => this.deliveries.get(t, id));
  retryDelivery: Store['retryDelivery'] = (t, id, now) => this.gate.pass(() => this.deliveries.retry(t, id, now));

  requeueDeliveries: Store['requeueDeliveries'] = (t, q, now) => this.gate.pass(() => this.lifecycle.requeue(t, q, now));
  rotateSecret: Store['rotateSecret'] = (t, id, secret, until, now) =>
    this.gate.pass(() => {
      const ok = this.lifecycle.rotate(t, id, secret, until, now);
      if (ok) this.listeners.forEach((l) => l());
      return ok;
    });
  purgeExpired: Store['purgeExpired'] = (cutoff, batch, now) => this.gate.pass(() => this.lifecycle.purge(cutoff, batch, now));

  responseTimeReport: Store['responseTimeReport'] = (t, q) => this.gate.pass(() => this.reports.responseTime(t, q));
  deliverySummary: Store['deliverySummary'] = (t, q) => this.gate.pass(() => this.reports.summary(t, q));
  deliveryTimeSeries: Store['deliveryTimeSeries'] = (t, q) => this.gate.pass(() => this.reports.timeSeries(t, q));

  claim: Store['claim'] = async (requests, owner, now) => this.dispatch.claim(requests, owner, now);
  recordAttempts: Store['recordAttempts'] = (results, owner) => this.gate.pass(() => this.dispatch.record(results, owner));
  releaseLeases: Store['releaseLeases'] = (owner, now, ids) => this.gate.pass(() => this.dispatch.release(owner, now, ids));
  dueSubscribers: Store['dueSubscribers'] = () => this.gate.pass(() => this.dispatch.due());
  queueDepth: Store['queueDepth'] = () => this.gate.pass(() => this.dispatch.queueDepth());

  insertApiKey: Store['insertApiKey'] = (r, now) => this.gate.pass(() => this.apiKeys.insert(r, now));
  findApiKey: Store['findApiKey'] = async (id) => this.apiKeys.find(id);
  listApiKeys: Store['listApiKeys'] = async (org) => this.apiKeys.list(org);
  revokeApiKey: Store['revokeApiKey'] = (id, now) => this.gate.pass(() => this.apiKeys.revoke(id, now));
  countActiveApiKeys: Store['countActiveApiKeys'] = async () => this.apiKeys.countActive();
}
