// The dispatch loop: lease due deliveries per subscriber within its max_in_flight, send, record results in batches.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { nextAttemptAt, parseRetryAfter } from '../domain/retry.ts';
import type { Metrics } from '../metrics.ts';
import { Renewal } from '../renewal.ts';
import type { AttemptOutcome, AttemptResult, ClaimedDelivery, ClaimRequest, DispatchSubscriber, Store } from '../store/index.ts';
import { isStoreUnavailable } from '../store/index.ts';
import { VERSION } from '../version.ts';
import { signingContext, type SigningContext } from './request.ts';
import type { SendResult, WebhookSender } from './sender.ts';

export interface DispatcherOptions {
  /** Requests on the wire at once. */
  concurrency: number;
  /**
   * Attempts handed to the sender per unit of `concurrency` (default 1). Above 1 the sender must itself keep
   * `concurrency` on the wire and queue the rest (SenderOptions.maxActive): it then has the next attempts at hand
   * while this thread is busy (a batch publish, a write of results) instead of waiting for it to start them.
   */
  handoff?: number;
  leaseMarginMs: number;
  /** How often the queue is rescanned when nothing woke the dispatcher: a safety net, not the wake-up path. */
  rescanMs?: number;
  /** Attempt results wait at most this long to be written together (default 100 ms). */
  flushDelayMs?: number;
  /** A write starts as soon as this many results wait (default FLUSH_BATCH). */
  flushBatch?: number;
  /**
   * A subscriber starts nothing new while its attempts in flight and its answers not yet written reach 2 ×
   * max_in_flight. Where other processes take over a killed one's work (PostgreSQL), this bounds what they send again,
   * however slow the writes get under load.
   */
  boundUnwritten?: boolean;
  random?: () => number;
  /** Attempts and finished deliveries older than this many days are purged. */
  retentionDays?: number;
  /** Told about each subscriber a batch of results blocked. */
  onBlocked?: (subscriber: DispatchSubscriber, reason: string) => void;
  /** How often `due`, `held` and `ready` are replaced by copies of themselves (default RENEW_EVERY_MS: renewal.ts). */
  renewEveryMs?: number;
}

const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH = 500;
const DAY_MS = 86_400_000;

interface CachedSubscriber {
  subscriber: DispatchSubscriber;
  signing: SigningContext;
}

interface ReadyDelivery {
  delivery: ClaimedDelivery;
  /** Epoch ms after which the lease no longer covers a whole attempt. */
  sendBy: number;
}

/**
 * The most attempts handed to the sender beyond `concurrency` (see `handoff`). What waits there must start within
 * half the lease margin or come back unsent; a bound in attempts rather than a multiple keeps that wait short at the
 * default concurrency of 512 when the endpoints are slow.
 */
const MAX_HANDOFF_EXTRA = 1024;
/** Deliveries claimed ahead, as a multiple of the slots (in flight + ready ≤ concurrency × this). */
export const PIPELINE_DEPTH = 8;
/**
 * The least a claim asks for per subscriber (its room permitting). Asking each of a hundred subscribers for one or two
 * deliveries cost a query per subscriber per couple of deliveries: SQLite claims took 77 µs per delivery on the bench
 * machine, 44 µs with at least 8 asked for each (the others get their turn in the next rounds).
 */
const MIN_CLAIM = 8;
const FLUSH_BATCH = 1024;
/** Answers that mean "you are sending too much": the whole subscriber is paused, not just this delivery. */
const SLOW_DOWN = new Set([429, 502, 503, 504]);
const SLOW_DOWN_MS = 1000;
/** After a failed store call (claim, write, rescan) the next waits this long, doubling per failure up to the max. */
const STORE_RETRY_MS = 250;
const STORE_RETRY_MAX_MS = 1000;
/** While the store keeps failing, one log line this often (the first failure is logged at once, with its error). */
const STORE_FAILING_LOG_MS = 30_000;

const SUCCESS: AttemptOutcome = { kind: 'success' };
/** What a claimed delivery holds once the sender has its body. */
const NO_BODY = new Uint8Array(0);

/** The result of an attempt that sent nothing (parked, or given up for a deleted subscriber). */
function unsent(delivery: ClaimedDelivery, at: number, outcome: AttemptOutcome, error: string | null = null): AttemptResult {
  return {
    deliveryId: delivery.id,
    subscriberId: delivery.subscriberId,
    attempt: delivery.attemptCount + 1,
    attemptedAt: at,
    runStartedAt: delivery.runStartedAt ?? at,
    durationMs: 0,
    responseCode: 0,
    responseBody: null,
    error,
    outcome,
  };
}

export class Dispatcher {
  readonly nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  /** subscriber id → when its earliest queued delivery falls due (epoch ms). */
  private due = new Map<number, number>();
  /**
   * Subscribers whose due time moved earlier (publish, rescan, retry) while a claim round was running. The claim's own
   * answer about them may predate that news (on PostgreSQL its statement sees only what committed before it began), so
   * it must not push their due time later or forget them: that stranded new deliveries until the next rescan.
   */
  private readonly movedDuringClaim = new Set<number>();
  private readonly inFlight = new Map<number, number>();
  /** subscriber id → answers received but not yet written (kept with `boundUnwritten`). */
  private readonly unwritten = new Map<number, number>();
  /**
   * Deliveries this dispatcher holds: claimed and waiting in `ready`, in flight, or answered with the result not yet
   * written. A claim can hand one of them out again when its lease ran out meanwhile (a store outage longer than the
   * lease, with its result held back): it is not sent a second time, and the result still to be written finishes it.
   */
  private held = new Set<number>();
  /** subscriber id → no new claims before this time (epoch ms), after a 429/502/503/504. */
  private readonly pausedUntil = new Map<number, number>();
  private readonly subscribers = new Map<number, CachedSubscriber>();
  /** subscriber id → deliveries claimed (leased) for it and waiting for a free slot, oldest first. */
  private ready = new Map<number, ReadyDelivery[]>();
  private readyCount = 0;
  /** Told when the last attempt in flight lands (stop() waits for that). */
  private idle: (() => void) | undefined;
  private pumping = false;
  private pumpAgain = false;
  private results: AttemptResult[] = [];
  /** Attempts that came back unsent in this turn, handed back together (handBackSoon). */
  private unsentBatch: { deliveries: ClaimedDelivery[]; done: Promise<void> } | undefined;
  /** How many attempts may be in the sender's hands: concurrency × handoff, at most MAX_HANDOFF_EXTRA more. */
  private readonly slots: number;
  private totalInFlight = 0;
  private claiming = false;
  private claimAgain = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** A write is queued behind the running one; it will take every result buffered by the time it starts. */
  private writeQueued = false;
  /** Set from the first failed store call until one succeeds: claims wait until `retryAt`, logs are rationed. */
  private outage: { since: number; failures: number; retryAt: number; loggedAt: number } | undefined;
  private rescanRetry: NodeJS.Timeout | undefined;
  /** Ends the wait of a batch of results held back by an outage (the store answers again, or shutdown). */
  private retryRecordNow: (() => void) | undefined;
  private readonly userAgent = `hookd/${VERSION}`;
  /** hookd_delivery_duration_seconds by outcome, with its labels made once rather than as an object per attempt. */
  private readonly durationOfSuccess: { observe(seconds: number): void };
  private readonly durationOfFailure: { observe(seconds: number): void };
  private readonly random: () => number;
  /** `due`, `held` and `ready` change with every claim and attempt: see renewal.ts. */
  private readonly renewal: Renewal;

  constructor(
    private readonly store: Store,
    private readonly sender: WebhookSender,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: Metrics,
    private readonly options: DispatcherOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.renewal = new Renewal(options.renewEveryMs);
    this.durationOfSuccess = metrics.deliveryDuration.labels('success');
    this.durationOfFailure = metrics.deliveryDuration.labels('failure');
    this.slots = options.concurrency + Math.min(options.concurrency * ((options.handoff ?? 1) - 1), MAX_HANDOFF_EXTRA);
    // Work queued by another process (PostgreSQL NOTIFY); `all` when it is not known for whom.
    store.onWork((ids) => {
      if (this.stopped) return;
      if (ids === 'all') void this.rescan();
      else this.wake(ids);
    });
    store.onSubscribersChanged(() => {
      this.subscribers.clear();
      // A re-activated subscriber's RESYNC deliveries were re-queued: find them.
      if (!this.stopped) void this.rescan();
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.rescan();
    this.rescanTimer = setInterval(() => void this.rescan(), this.options.rescanMs ?? 30_000);
    this.rescanTimer.unref();
    if (this.options.retentionDays !== undefined) {
      this.purgeTimer = setInterval(() => void this.purge(), PURGE_EVERY_MS);
      this.purgeTimer.unref();
    }
  }

  /**
   * Retention: small batches with a turn of the event loop between them, so deliveries never wait long for the
   * writer. Returns how many rows went.
   */
  async purge(now: number = Date.now()): Promise<number> {
    const cutoff = now - (this.options.retentionDays ?? 30) * DAY_MS;
    let total = 0;
    try {
      for (;;) {
        const removed = await this.store.purgeExpired(cutoff, PURGE_BATCH, now);
        total += removed;
        if (removed === 0 || this.stopped) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0) this.log.info({ removed: total, cutoff: new Date(cutoff).toISOString() }, 'retention: purged old attempts, deliveries and events');
    } catch (err) {
      this.log.error({ err }, 'retention: purge failed; will try again');
    }
    return total;
  }

  /** Publish calls this: these subscribers have new deliveries due now. */
  wake(subscriberIds: Iterable<number>): void {
    const now = Date.now();
    for (const id of subscriberIds) this.dueNoLaterThan(id, now);
    this.scheduleClaim();
  }

  private dueNoLaterThan(subscriberId: number, at: number): void {
    const current = this.due.get(subscriberId);
    if (current === undefined || at < current) this.due.set(subscriberId, at);
    if (this.claiming) this.movedDuringClaim.add(subscriberId);
  }

  /** Looks at the whole queue again (after a bulk retry, a re-activation, or as the periodic safety net). */
  async rescan(): Promise<void> {
    try {
      for (const { subscriberId, nextAttemptAt } of await this.store.dueSubscribers()) this.dueNoLaterThan(subscriberId, nextAttemptAt);
      if (this.outage) this.storeAnswered(false);
      this.scheduleClaim();
    } catch (err) {
      const delay = this.storeFailed('queue scan', err);
      if (!this.stopped && !this.rescanRetry) {
        this.rescanRetry = setTimeout(() => {
          this.rescanRetry = undefined;
          void this.rescan();
        }, delay);
        this.rescanRetry.unref();
      }
    }
  }

  /**
   * A store call failed (PostgreSQL restarting or unreachable, SQLite busy): the next ones back off, from
   * STORE_RETRY_MS doubling to STORE_RETRY_MAX_MS, and the log gets the first failure and then a line every 30 s, not one
   * per try. Returns how long to wait before trying again.
   */
  private storeFailed(what: string, err: unknown): number {
    const now = Date.now();
    if (!this.outage) {
      this.outage = { since: now, failures: 0, retryAt: now, loggedAt: now };
      this.log.error({ err }, `dispatcher: ${what} failed; backing off and trying again until the store answers`);
    } else if (now - this.outage.loggedAt >= STORE_FAILING_LOG_MS) {
      this.outage.loggedAt = now;
      const reason = err instanceof Error ? err.message : String(err);
      this.log.warn({ failures: this.outage.failures, downMs: now - this.outage.since, reason }, `dispatcher: the store is still failing (${what}); still trying`);
    }
    this.outage.failures++;
    const delay = Math.min(STORE_RETRY_MAX_MS, STORE_RETRY_MS * 2 ** Math.min(this.outage.failures - 1, 10));
    this.outage.retryAt = now + delay;
    return delay;
  }

  /**
   * A store call succeeded after failures: results held back are written now, and the queue is scanned again, since
   * what was published, retried or fell due meanwhile (leases that ran out) may not be in `due`, and NOTIFYs were lost.
   */
  private storeAnswered(rescan = true): void {
    const outage = this.outage;
    if (!outage) return;
    this.outage = undefined;
    this.log.info({ downMs: Date.now() - outage.since, failures: outage.failures }, 'dispatcher: the store answers again; resuming');
    this.retryRecordNow?.();
    if (rescan) void this.rescan();
    this.scheduleClaim();
  }

  private scheduleClaim(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    if (this.outage && Date.now() < this.outage.retryAt) return this.armTimer(); // backing off: armTimer waits for retryAt
    this.claiming = true;
    setImmediate(() => void this.claimRound());
  }

  private async claimRound(): Promise<void> {
    // News from between scheduling this round and now is news the round sees: it reads `due` and the free slots from
    // here on, and the store after that. Counted as news during the claim, it kept each such subscriber due and ran
    // another round just for it, which found its deliveries already claimed: in the bench's latency phase, with
    // publishes committing while a round waited for its turn, 1 200-2 000 of ~4 000-5 000 subscriber claims a second
    // came back empty that way.
    this.claimAgain = false;
    this.movedDuringClaim.clear();
    // Rounds never overlap and the other loops over these run to their end, so none is half-way through one now.
    if (this.renewal.due()) {
      this.due = new Map(this.due);
      this.held = new Set(this.held);
      this.ready = new Map(this.ready);
    }
    try {
      const now = Date.now();
      // Claims run ahead of the sender: deliveries wait, leased, in `ready` so a freed slot is refilled at once
      // instead of after a store round trip, and each claim is one larger transaction instead of many small ones.
      // Past that depth, still the free slots, but only for subscribers with nothing waiting in `ready`: when it is
      // full of deliveries waiting for their subscriber's limit, claiming more for those subscribers only grew it
      // (to 10 000 on PostgreSQL, where they then waited out their leases and were handed back).
      const overDepth = this.totalInFlight + this.readyCount >= this.options.concurrency * PIPELINE_DEPTH;
      const free = Math.max(
        this.slots - this.totalInFlight,
        this.options.concurrency * PIPELINE_DEPTH - this.totalInFlight - this.readyCount,
      );
      const eligible: { subscriberId: number; capacity: number; leaseMs: number }[] = [];
      // Keys, not entries: an entries loop allocated a [key, value] pair per subscriber per round, 4 % of this
      // thread's allocations on the bench (with the same pattern in pump and armTimer).
      for (const subscriberId of this.due.keys()) {
        const at = this.due.get(subscriberId)!;
        if (at > now || (this.pausedUntil.get(subscriberId) ?? 0) > now) continue;
        if (overDepth && this.ready.has(subscriberId)) continue;
        const cached = this.subscribers.get(subscriberId) ?? (await this.subscriber(subscriberId));
        if (!cached) {
          this.due.delete(subscriberId);
          continue;
        }
        const held = (this.inFlight.get(subscriberId) ?? 0) + (this.ready.get(subscriberId)?.length ?? 0);
        const capacity = cached.subscriber.max_in_flight * PIPELINE_DEPTH - held;
        if (capacity > 0) eligible.push({ subscriberId, capacity, leaseMs: cached.subscriber.timeout_ms + this.options.leaseMarginMs });
      }
      // Every due subscriber gets a fair share of the free slots, not the first few their whole max_in_flight:
      // handing out whole capacities starved the others for seconds (bench: p99 5.4 s at 400 deliveries/s).
      // Those served go to the back of the queue, so when there are more due subscribers than slots all get a turn.
      const share = Math.max(MIN_CLAIM, Math.ceil(free / Math.max(1, eligible.length)));
      const requests: ClaimRequest[] = [];
      let left = free;
      for (const e of eligible) {
        if (left <= 0) break;
        const limit = Math.min(e.capacity, share, left);
        requests.push({ subscriberId: e.subscriberId, limit, leaseMs: e.leaseMs });
        left -= limit;
      }
      if (requests.length > 0 && !this.stopped) {
        const result = await this.store.claim(requests, this.nodeId, now);
        if (this.outage) this.storeAnswered();
        for (const [subscriberId, at] of result.nextDue) {
          if (this.movedDuringClaim.has(subscriberId)) {
            if (at !== null) this.dueNoLaterThan(subscriberId, at);
          } else {
            this.due.delete(subscriberId);
            if (at !== null) this.due.set(subscriberId, at);
          }
        }
        // Sent only while the lease (timeout + margin from the claim) still covers a whole attempt and the writing of
        // its result: started within half the margin, so the other half is left for the batched write.
        const sendBy = now + this.options.leaseMarginMs / 2;
        for (const delivery of result.deliveries) {
          if (this.held.has(delivery.id)) continue;
          this.held.add(delivery.id);
          let queue = this.ready.get(delivery.subscriberId);
          if (!queue) this.ready.set(delivery.subscriberId, (queue = []));
          queue.push({ delivery, sendBy });
          this.readyCount++;
        }
        if (result.deliveries.length > 0) this.pump();
      }
    } catch (err) {
      this.storeFailed('claim', err); // the armTimer below waits for the back-off
    } finally {
      this.claiming = false;
      this.movedDuringClaim.clear();
      if (this.claimAgain) {
        this.claimAgain = false;
        this.scheduleClaim();
      } else {
        this.armTimer();
      }
    }
  }

  /**
   * Starts claimed deliveries while there are free slots. An attempt can land while pump starts it (a sender that
   * refuses at once): its pump then runs after this one, not inside it.
   */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.startReady();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /** One pass of pump: one subscriber after another (round robin). */
  private startReady(): void {
    if (this.stopped) return;
    const now = Date.now();
    let late: ClaimedDelivery[] | undefined; // pump runs once per answer: no array unless one is late
    // Round robin: whoever is visited goes to the back of the line (a Map visits entries re-added during the loop),
    // so neither the served nor the skipped ones are looked at first next time; one whole lap without a start ends it.
    let idle = 0;
    for (const subscriberId of this.ready.keys()) {
      if (this.totalInFlight >= this.slots || idle >= this.ready.size) break;
      const queue = this.ready.get(subscriberId)!;
      this.ready.delete(subscriberId);
      const limit = this.subscribers.get(subscriberId)?.subscriber.max_in_flight ?? 1;
      const inFlight = this.inFlight.get(subscriberId) ?? 0;
      const full = inFlight >= limit || inFlight + (this.unwritten.get(subscriberId) ?? 0) >= 2 * limit;
      if ((this.pausedUntil.get(subscriberId) ?? 0) > now || full) {
        this.ready.set(subscriberId, queue);
        idle++;
        continue;
      }
      idle = 0;
      const entry = queue.shift()!;
      this.readyCount--;
      if (queue.length > 0) this.ready.set(subscriberId, queue);
      if (entry.sendBy < now) {
        (late ??= []).push(entry.delivery); // the lease no longer covers a whole attempt: handed back, claimed afresh
        continue;
      }
      this.launch(entry.delivery, entry.sendBy);
    }
    if (late) void this.handBack(late);
    const starved = this.readyCount < (this.options.concurrency * PIPELINE_DEPTH) / 2 || this.totalInFlight < this.slots;
    if (starved && this.due.size > 0) this.scheduleClaim();
  }

  /** Sleeps until the earliest future due time among subscribers that have room. */
  private armTimer(at?: number): void {
    if (this.stopped) return;
    let earliest = at ?? Infinity;
    const now = Date.now();
    for (const subscriberId of this.due.keys()) {
      const dueAt = this.due.get(subscriberId)!;
      const due = Math.max(dueAt, this.pausedUntil.get(subscriberId) ?? 0);
      if (due > now) earliest = Math.min(earliest, due);
      else if ((this.inFlight.get(subscriberId) ?? 0) === 0 && this.totalInFlight < this.slots) {
        earliest = Math.min(earliest, now + 50); // due but unclaimed (lost race with a lease): look again soon
      }
    }
    for (const subscriberId of this.ready.keys()) {
      const paused = this.pausedUntil.get(subscriberId) ?? 0;
      if (paused > now) earliest = Math.min(earliest, paused);
    }
    if (this.outage && earliest < this.outage.retryAt) earliest = this.outage.retryAt;
    clearTimeout(this.timer);
    if (earliest === Infinity) return;
    this.timer = setTimeout(() => {
      this.pump();
      this.scheduleClaim();
    }, Math.max(0, Math.min(earliest - now, 2 ** 31 - 1)));
    this.timer.unref();
  }

  private async subscriber(id: number): Promise<CachedSubscriber | null> {
    const cached = this.subscribers.get(id);
    if (cached) return cached;
    const subscriber = await this.store.getSubscriberForDispatch(id);
    if (!subscriber) return null;
    const entry = { subscriber, signing: signingContext(subscriber) };
    this.subscribers.set(id, entry);
    return entry;
  }

  /**
   * Starts one attempt. Callbacks, not an async function: its suspended frame, the promises and their reactions were
   * a quarter of this thread's allocations, kept alive for as long as the attempt (bench, sampling heap profile).
   */
  private launch(delivery: ClaimedDelivery, sendBy: number): void {
    this.inFlight.set(delivery.subscriberId, (this.inFlight.get(delivery.subscriberId) ?? 0) + 1);
    this.totalInFlight++;
    const cached = this.subscribers.get(delivery.subscriberId);
    if (cached) return this.attempt(delivery, sendBy, cached);
    // Not cached (changed or new since it was claimed): read, then attempted like the others.
    this.subscriber(delivery.subscriberId).then(
      (read) => this.attempt(delivery, sendBy, read),
      (err) => this.attemptFailed(delivery, err),
    );
  }

  /** Ends an attempt's hold on its slot; `pump` refills it. */
  private landed(delivery: ClaimedDelivery): void {
    this.inFlight.set(delivery.subscriberId, (this.inFlight.get(delivery.subscriberId) ?? 1) - 1);
    this.totalInFlight--;
    if (this.totalInFlight === 0) this.idle?.();
    this.pump();
  }

  private attemptFailed(delivery: ClaimedDelivery, err: unknown): void {
    this.log.error({ err, delivery_id: delivery.id }, 'dispatcher: attempt failed unexpectedly');
    this.landed(delivery);
  }

  private attempt(delivery: ClaimedDelivery, sendBy: number, cached: CachedSubscriber | null): void {
    try {
      const attemptedAt = Date.now();
      if (!cached || cached.subscriber.deleted) {
        this.push(unsent(delivery, attemptedAt, { kind: 'give-up' }, 'subscriber deleted'));
        return this.landed(delivery);
      }
      const { subscriber, signing } = cached;
      if (subscriber.status !== 'active') {
        this.push(unsent(delivery, attemptedAt, { kind: 'park' }));
        return this.landed(delivery);
      }
      const body = delivery.body;
      // The body is the sender's from here. This delivery object stays referenced until its result is written, a few
      // hundred ms under load: with its 1 KiB+ body still attached, that got the bodies promoted to the old generation,
      // a third of what the main thread's mark-compacts then collected (bench, --trace-gc: 999 MB before, 621 after).
      delivery.body = NO_BODY;
      this.sender.deliverThen(
        {
          url: subscriber.webhook_url,
          signing,
          eventId: delivery.eventId,
          body,
          userAgent: this.userAgent,
          attemptedAt,
          timeoutMs: subscriber.timeout_ms,
          sendBy,
        },
        (sent) => this.answered(delivery, subscriber, attemptedAt, sent),
      );
    } catch (err) {
      this.attemptFailed(delivery, err);
    }
  }

  private answered(delivery: ClaimedDelivery, subscriber: DispatchSubscriber, attemptedAt: number, sent: SendResult): void {
    try {
      if (sent.unsent) {
        // It waited in the sender past what its lease covers: not an attempt, handed back to be claimed afresh (with
        // the others that came back in this turn, in one store call).
        this.handBackSoon(delivery).then(
          () => this.landed(delivery),
          (err) => this.attemptFailed(delivery, err),
        );
        return;
      }
      this.push(this.resultOf(delivery, subscriber, attemptedAt, sent));
    } catch (err) {
      return this.attemptFailed(delivery, err);
    }
    this.landed(delivery);
  }

  /** What an answered attempt means for its delivery (and, for 429/502/503/504, for its subscriber). */
  private resultOf(delivery: ClaimedDelivery, subscriber: DispatchSubscriber, attemptedAt: number, sent: SendResult): AttemptResult {
    const runStartedAt = delivery.runStartedAt ?? attemptedAt;
    const ok = sent.responseCode >= 200 && sent.responseCode < 300;
    const now = Date.now();
    const retryAfterMs = parseRetryAfter(sent.retryAfter, now);
    if (ok) this.pausedUntil.delete(subscriber.id);
    else if (SLOW_DOWN.has(sent.responseCode)) {
      const until = now + Math.max(retryAfterMs ?? 0, SLOW_DOWN_MS);
      this.pausedUntil.set(subscriber.id, Math.max(until, this.pausedUntil.get(subscriber.id) ?? 0));
      // What it had claimed ahead goes back to the store now rather than waiting out the pause in `ready`.
      const waiting = this.takeReady(subscriber.id);
      if (waiting.length > 0) void this.handBack(waiting);
    }
    let outcome: AttemptOutcome;
    if (ok) outcome = SUCCESS;
    else if (sent.responseCode === 410) outcome = { kind: 'give-up', gone: true }; // Gone: the endpoint asked us to stop
    else {
      const at = nextAttemptAt({
        policy: subscriber.retry_policy,
        attempts: delivery.runAttempts + 1,
        firstAttemptAt: runStartedAt,
        now,
        retryAfterMs,
        random: this.random(),
      });
      outcome = at === null ? { kind: 'give-up' } : { kind: 'retry', nextAttemptAt: at };
    }
    this.metrics.attempts.count(subscriber.id, ok);
    (ok ? this.durationOfSuccess : this.durationOfFailure).observe(sent.durationMs / 1000);
    return {
      deliveryId: delivery.id,
      subscriberId: delivery.subscriberId,
      attempt: delivery.attemptCount + 1,
      attemptedAt,
      runStartedAt,
      durationMs: sent.durationMs,
      responseCode: sent.responseCode,
      responseBody: sent.responseBody,
      error: sent.error,
      outcome,
    };
  }

  private async handBack(late: ClaimedDelivery[]): Promise<void> {
    // Still held while the hand-back runs: a claim meanwhile may lease them to this node afresh (their old leases ran
    // out), and the hand-back then releases that lease too; sent from that claim, they would be sent again after it.
    try {
      await this.store.releaseLeases(this.nodeId, Date.now(), late.map((d) => d.id));
      this.wake(new Set(late.map((d) => d.subscriberId)));
    } catch (err) {
      // Their leases run out instead, and they fall due again then.
      this.log.warn({ err, deliveries: late.length }, 'dispatcher: could not hand back late deliveries; their leases will expire');
      for (const d of late) this.dueNoLaterThan(d.subscriberId, Date.now() + this.options.leaseMarginMs);
    } finally {
      for (const d of late) this.held.delete(d.id);
    }
  }

  /** Hands `delivery` back with the others given to it in this turn of the event loop; resolves when that is done. */
  private handBackSoon(delivery: ClaimedDelivery): Promise<void> {
    let batch = this.unsentBatch;
    if (!batch) {
      const deliveries: ClaimedDelivery[] = [];
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.unsentBatch = undefined;
        return this.handBack(deliveries);
      });
      batch = this.unsentBatch = { deliveries, done };
    }
    batch.deliveries.push(delivery);
    return batch.done;
  }

  /** Removes and returns a subscriber's claimed deliveries that have not started. */
  private takeReady(subscriberId: number): ClaimedDelivery[] {
    const queue = this.ready.get(subscriberId) ?? [];
    this.ready.delete(subscriberId);
    this.readyCount -= queue.length;
    return queue.map((entry) => entry.delivery);
  }

  /** Claimed deliveries of a subscriber that is no longer sent to, not yet started: parked (RESYNC) with the rest. */
  private parkReady(subscriberId: number): void {
    const waiting = this.takeReady(subscriberId);
    if (waiting.length === 0) return;
    const now = Date.now();
    for (const delivery of waiting) this.push(unsent(delivery, now, { kind: 'park' }));
    void this.flush();
  }

  /**
   * Buffers a result for the next batched write (within flushDelayMs). The attempt's slot is already free; with
   * `boundUnwritten` the result still counts against the subscriber's room until it is written.
   */
  private push(result: AttemptResult): void {
    if (this.options.boundUnwritten) this.unwritten.set(result.subscriberId, (this.unwritten.get(result.subscriberId) ?? 0) + 1);
    this.results.push(result);
    if (this.results.length >= (this.options.flushBatch ?? FLUSH_BATCH)) void this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), this.options.flushDelayMs ?? 100);
    }
  }

  /**
   * Writes buffered results; writes run one after another so the store sees them in order. A write queued behind a
   * running one takes, when it starts, every result buffered by then (group commit): batches grow with the store's
   * latency instead of queueing up as a chain of small ones, one per flush delay, each paying a whole transaction
   * (PostgreSQL on the bench: ~20 results per 6 ms write, the writes falling ever further behind).
   */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.writeQueued || this.results.length === 0) return this.flushing;
    this.writeQueued = true;
    this.flushing = this.flushing.then(async () => {
      this.writeQueued = false;
      const batch = this.results;
      this.results = [];
      if (batch.length === 0) return;
      try {
        const { blocked } = await this.recordAttempts(batch);
        for (const id of blocked) {
          this.reportBlocked(id, batch).catch((err) => this.log.error({ err, subscriber_id: id }, 'dispatcher: could not report a blocked subscriber'));
        }
      } catch (err) {
        // Not written (not an outage, or shutting down): the leases will expire and the deliveries be sent again:
        // at-least-once, nothing lost.
        this.log.error({ err, results: batch.length }, 'dispatcher: could not record attempt results');
        return;
      } finally {
        this.written(batch);
      }
      for (const r of batch) if (r.outcome.kind === 'retry') this.dueNoLaterThan(r.subscriberId, r.outcome.nextAttemptAt);
      this.armTimer();
    });
    return this.flushing;
  }

  private written(batch: AttemptResult[]): void {
    for (const r of batch) this.held.delete(r.deliveryId);
    if (!this.options.boundUnwritten) return;
    for (const r of batch) {
      const left = (this.unwritten.get(r.subscriberId) ?? 1) - 1;
      if (left > 0) this.unwritten.set(r.subscriberId, left);
      else this.unwritten.delete(r.subscriberId);
    }
    this.pump();
  }

  /**
   * Writes a batch of results. While the store is unavailable (a restart, a failover) the batch waits and is tried
   * again with the same back-off as claims, instead of being dropped: what was sent during an outage is recorded when
   * the store answers, not sent again once its leases run out (a write after another node re-leased a delivery matches
   * no row, as always). Any other error, or a failure while stopping, is thrown.
   */
  private async recordAttempts(batch: AttemptResult[]): ReturnType<Store['recordAttempts']> {
    for (;;) {
      try {
        const summary = await this.store.recordAttempts(batch, this.nodeId);
        if (this.outage) this.storeAnswered();
        return summary;
      } catch (err) {
        if (this.stopped || !isStoreUnavailable(err)) throw err;
        const delay = this.storeFailed('writing attempt results', err);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.retryRecordNow = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.retryRecordNow = undefined;
      }
    }
  }

  private async reportBlocked(subscriberId: number, batch: AttemptResult[]): Promise<void> {
    this.due.delete(subscriberId);
    this.parkReady(subscriberId);
    const subscriber = await this.store.getSubscriberForDispatch(subscriberId);
    if (!subscriber) return;
    const last = batch.filter((r) => r.subscriberId === subscriberId && r.outcome.kind === 'give-up').at(-1);
    const gone = last?.outcome.kind === 'give-up' && last.outcome.gone;
    const reason = gone
      ? `the endpoint answered 410 Gone (delivery ${last!.deliveryId})`
      : `delivery ${last?.deliveryId} exhausted its retry policy after ${last?.attempt} attempts with no successful delivery ` +
        `since its first attempt${last?.error ? `; last error: ${last.error}` : ''}`;
    this.options.onBlocked?.(subscriber, reason);
  }

  /** Stops claiming, lets in-flight attempts finish within the grace period, records them, hands back the rest. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.rescanTimer);
    clearInterval(this.purgeTimer);
    clearTimeout(this.rescanRetry);
    this.retryRecordNow?.(); // results held back by an outage: one last try now, then they are given up
    const grace = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    const landed = this.totalInFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.idle = resolve));
    await Promise.race([landed, grace]);
    this.idle = undefined;
    await this.flush();
    const released = await this.store.releaseLeases(this.nodeId, Date.now());
    if (released > 0) this.log.warn({ released }, 'dispatcher: handed back unfinished deliveries');
  }

  get inFlightCount(): number {
    return this.totalInFlight;
  }
}
