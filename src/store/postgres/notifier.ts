// LISTEN/NOTIFY between hookd processes on one database. A hint, not a guarantee (as in pg-boss and
// graphile-worker): published work wakes idle dispatchers on every node at once, and a saved subscriber or filter
// change drops every node's caches. The LISTEN connection reconnects with back-off; after a reconnect everything is
// treated as changed and as new work (the dispatcher rescans the queue), since notifications sent meanwhile were lost.
// The dispatcher's slow rescan covers the rest.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const WORK_CHANNEL = 'hookd_work';
export const CHANGED_CHANNEL = 'hookd_changed';
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7000;

export type WorkListener = (subscriberIds: number[] | 'all') => void;

/** Reconnect delays double from the first to the last: trying to connect to a server that is down costs nothing. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * Every payload starts with the sending process's id, so a process ignores its own notifications: it has already
 * woken its dispatcher and dropped its caches itself.
 */
export const INSTANCE = randomBytes(6).toString('hex');

export class Notifier {
  private client: pg.Client | undefined;
  private closed = false;
  private backoffMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly onWork: WorkListener,
    private readonly onChanged: () => void,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Rejects when the first LISTEN fails, and keeps trying in the background all the same. */
  async start(): Promise<void> {
    await this.connect(false);
  }

  private async connect(reconnecting: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000, application_name: 'hookd-listen' });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => {
      const [sender = '', body = ''] = (n.payload ?? '').split(':', 2);
      if (sender === INSTANCE) return;
      if (n.channel === CHANGED_CHANNEL) this.onChanged();
      else if (n.channel === WORK_CHANNEL) {
        const ids = body.split(',').filter(Boolean).map(Number);
        this.onWork(ids.length > 0 && ids.every(Number.isInteger) ? ids : 'all');
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WORK_CHANNEL}; LISTEN ${CHANGED_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {});
      this.lost(client);
      if (!reconnecting) throw err;
      return;
    }
    if (this.closed) return void client.end().catch(() => {});
    this.client = client;
    this.backoffMs = FIRST_RETRY_MS;
    if (reconnecting) {
      this.log('LISTEN connection restored');
      this.onChanged();
      this.onWork('all');
    }
  }

  private lost(client: pg.Client): void {
    if (this.closed || (this.client !== undefined && this.client !== client) || this.timer) return;
    this.client = undefined;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_RETRY_MS);
    this.log(`LISTEN connection lost; reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect(true);
    }, delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => {});
  }
}

/** Sends work notifications for these subscribers (several NOTIFYs when the list is long). */
export async function notifyWork(pool: pg.Pool, subscriberIds: Iterable<number> | 'all'): Promise<void> {
  const payloads: string[] = [];
  if (subscriberIds === 'all') payloads.push('');
  else {
    let current = '';
    for (const id of subscriberIds) {
      const next = current ? `${current},${id}` : String(id);
      if (next.length > MAX_PAYLOAD) {
        payloads.push(current);
        current = String(id);
      } else current = next;
    }
    if (current) payloads.push(current);
  }
  for (const payload of payloads) await pool.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, `${INSTANCE}:${payload}`]);
}

export async function notifyChanged(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT pg_notify($1, $2)', [CHANGED_CHANNEL, `${INSTANCE}:`]);
}
