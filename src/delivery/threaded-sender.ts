// Sends webhooks from a worker thread, so the HTTP work (undici, sockets, response parsing) runs on the second core
// while the main thread routes, claims, signs and records. Jobs started in one turn of the event loop cross in one
// message.
import { Worker } from 'node:worker_threads';
import { Renewal } from '../renewal.ts';
import { attemptSignatures, type AttemptSignatures, type SigningContext } from './request.ts';
import { noResponse, type SendResult, type SignedRequest, type WebhookSender } from './sender.ts';

export interface SendWorkerData {
  allowPrivateNetworks: boolean;
  /** SenderOptions.maxActive */
  maxActive?: number;
  /** While other attempts are pending in the thread, results wait up to this long to cross back together. */
  replyEveryMs?: number;
}

/**
 * Under load results cross back every 2 ms, not every turn of the sending thread's event loop. Each message can wake
 * the main thread, and the wake-up is paid by the sender: at ~730 messages a second (~15 results each) postMessage was
 * 10 % of the sending thread's profile, against ~2.5 µs a message in a loop. Bench, three interleaved pairs:
 * 11 545/11 042/11 155 against 10 893/10 688/10 483 deliveries/s; the main thread ran 434 time slices a second, not 714.
 */
export const REPLY_EVERY_MS = 2;

/**
 * Jobs cross flat, JOB_WIDTH values each: job id, signing context id, url, event id, body, user agent, attemptedAt,
 * timeoutMs, sendBy, outsideLimit, signatures. An array per job was one more object per delivery to build, clone and
 * collect on both threads. A body given as bytes (a claimed delivery's, shared by its event's deliveries) crosses once
 * per message however many jobs name it: structured clone writes an object it has written already as a reference.
 */
export type SendJobs = (number | string | Uint8Array | boolean | undefined | AttemptSignatures)[];
export const JOB_WIDTH = 11;

/**
 * One message to the sending thread. A subscriber's signing context crosses once, under an id its jobs then name:
 * cloning its keys and headers with every job was the larger part of each job's copy.
 */
export interface SendBatch {
  /** The thread forgets the contexts it holds before it learns this batch's. */
  reset: boolean;
  contexts: [number, SigningContext][];
  jobs: SendJobs;
}

/**
 * Results cross back flat, RESULT_WIDTH values each (id, status or -1 when unsent, durationMs, responseBody, error,
 * retryAfter): structured clone writes every object's property names again, and a result as an object cost ~2 µs to
 * serialize and read back against ~0.5 µs flat.
 */
export type SentBatch = (number | string | null | undefined)[];
const RESULT_WIDTH = 6;
const UNSENT_CODE = -1;

export function packResult(batch: SentBatch, id: number, r: SendResult): void {
  batch.push(id, r.unsent ? UNSENT_CODE : r.responseCode, r.durationMs, r.responseBody, r.error, r.retryAfter);
}

function unpackResult(batch: SentBatch, at: number): SendResult {
  const code = batch[at + 1] as number;
  const result: SendResult = {
    responseCode: code === UNSENT_CODE ? 0 : code,
    durationMs: batch[at + 2] as number,
    responseBody: batch[at + 3] as string | null,
    error: batch[at + 4] as string | null,
    retryAfter: batch[at + 5] as string | undefined,
  };
  if (code === UNSENT_CODE) result.unsent = true;
  return result;
}

const ENTRY = new URL('./send-worker-entry.cjs', import.meta.url);

export class ThreadedSender implements WebhookSender {
  private worker: Worker | undefined;
  /** Resolves once the current thread has loaded and sent its first (empty) batch. */
  private ready: Promise<void> | undefined;
  private nextId = 0;
  private pending = new Map<number, (result: SendResult) => void>();
  /** Requests not yet posted; the first has id `nextId - queued.length`. */
  private queued: SignedRequest[] = [];
  private closed = false;
  /** The ids under which the current thread knows signing contexts. */
  private contextIds = new WeakMap<SigningContext, number>();
  private contextsSent = 0;
  private resetContexts = false;

  /**
   * `contextsKept`: after this many contexts (subscribers, and each change of one) the thread forgets them all.
   * `renewal`: when `pending`, which gains and loses an entry per attempt, is replaced by a copy (renewal.ts).
   */
  constructor(
    private readonly options: SendWorkerData,
    private readonly contextsKept = 10_000,
    private readonly renewal = new Renewal(),
  ) {}

  deliver(request: SignedRequest): Promise<SendResult> {
    return new Promise((resolve) => this.deliverThen(request, resolve));
  }

  deliverThen(request: SignedRequest, done: (result: SendResult) => void): void {
    if (this.closed) return done(noResponse('the sender is shut down'));
    const id = this.nextId++;
    if (this.queued.length === 0) queueMicrotask(() => this.post());
    this.queued.push(request);
    this.pending.set(id, done);
  }

  /**
   * Boots the sending thread now rather than at the first send: loading it (undici, the TypeScript of the sender)
   * took ~240 ms, which the first delivery after a start waited out, with the claims behind it.
   */
  async boot(): Promise<void> {
    this.thread();
    await this.ready;
  }

  /** The running sending thread's id (tests). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  private post(): void {
    const queued = this.queued;
    this.queued = [];
    if (queued.length === 0) return;
    if (this.renewal.due()) this.pending = new Map(this.pending); // no loop over it is running here
    const worker = this.thread(); // first: a new thread knows no contexts yet
    const batch: SendBatch = { reset: this.resetContexts, contexts: [], jobs: [] };
    this.resetContexts = false;
    let id = this.nextId - queued.length;
    for (const r of queued) {
      let contextId = this.contextIds.get(r.signing);
      if (contextId === undefined) {
        contextId = this.contextsSent++;
        this.contextIds.set(r.signing, contextId);
        batch.contexts.push([contextId, r.signing]);
      }
      // Signed here, not in the sending thread: that thread is the one a delivery waits for, and the main thread had
      // time to spare once claims got cheaper (bench, three interleaved pairs: 9 636/9 932/10 721 against
      // 9 455/9 716/10 210 deliveries/s). The signatures add ~130 bytes to the job's copy.
      const signatures = r.signatures ?? attemptSignatures(r.signing, r.eventId, r.body, r.attemptedAt);
      batch.jobs.push(id++, contextId, r.url, r.eventId, r.body, r.userAgent, r.attemptedAt, r.timeoutMs, r.sendBy, r.outsideLimit, signatures);
    }
    worker.postMessage(batch);
    if (this.contextsSent >= this.contextsKept) this.forgetContexts(true);
  }

  /** Starts over with ids for every context; `tellThread`: the running thread must drop the ones it holds. */
  private forgetContexts(tellThread: boolean): void {
    this.contextIds = new WeakMap();
    this.contextsSent = 0;
    this.resetContexts = tellThread;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    this.forgetContexts(false);
    // A bounded young generation: the thread's garbage is short-lived request state, and memory is part of the budget.
    // 32 MB, not 16: with a few hundred attempts waiting here under load, 16 MB had it scavenging ~14 times a second and
    // promoting what waited (bench, three interleaved pairs: 165/153/176 against 175/168/170 µs of CPU per delivery,
    // peak RSS within 4 MB).
    const worker = new Worker(ENTRY, {
      workerData: this.options satisfies SendWorkerData,
      resourceLimits: { maxYoungGenerationSizeMb: 32 },
    });
    let loaded: () => void;
    this.ready = new Promise<void>((resolve) => (loaded = resolve));
    worker.on('message', (results: SentBatch) => {
      loaded();
      for (let at = 0; at < results.length; at += RESULT_WIDTH) {
        const id = results[at] as number;
        this.pending.get(id)?.(unpackResult(results, at));
        this.pending.delete(id);
      }
    });
    // A thread that dies fails the attempts it held (they are retried like any network error); the next send starts
    // a new one.
    worker.on('error', () => {});
    worker.on('exit', () => {
      loaded(); // boot() waits no longer for a thread that died
      if (this.worker === worker) this.worker = undefined;
      const reason = this.closed ? 'the sender is shut down' : 'the sending thread stopped unexpectedly';
      // Taken out first: an answer's callback may send again at once, to the next thread, under a new id.
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const done of lost) done(noResponse(reason));
    });
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }
}
