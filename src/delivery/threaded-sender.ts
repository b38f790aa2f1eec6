// Sends webhooks from a worker thread, so signing and HTTP work (HMACs, undici, sockets, response parsing) run on the
// second core while the main thread routes, claims and records. Jobs started in one turn of the event loop cross in
// one message, and both directions cross as flat arrays of strings and numbers: copying an object per attempt (with its
// signing context, keys and headers) both ways was about a tenth of the sending thread's time. What is the same for
// every attempt to a subscriber (URL, signing context, user agent, time-out) crosses once, as a route the thread keeps.
import { Worker } from 'node:worker_threads';
import type { SigningContext } from './request.ts';
import type { SendResult, SignedRequest, WebhookSender } from './sender.ts';

export interface SendWorkerData {
  allowPrivateNetworks: boolean;
}

/** What every attempt on one route shares. */
export interface Route {
  url: string;
  signing: SigningContext;
  userAgent: string;
  timeoutMs: number;
}

/** Main thread → sending thread. */
export interface SendBatch {
  /** Routes the thread has not seen yet: [route id, route]. */
  routes: [number, Route][];
  /** Routes no longer used (their signing context was collected): the thread drops them. */
  forget: number[];
  /** JOB_FIELDS values per attempt: job id, route id, event id, body, attemptedAt. */
  jobs: (number | string)[];
}
export const JOB_FIELDS = 5;
/** Sending thread → main thread, RESULT_FIELDS values per attempt: job id, then SendResult's fields in this order. */
export type ResultBatch = (number | string | null | undefined)[];
export const RESULT_FIELDS = 6;

const ENTRY = new URL('./send-worker-entry.cjs', import.meta.url);

interface KnownRoute {
  id: number;
  url: string;
  userAgent: string;
  timeoutMs: number;
}

export class ThreadedSender implements WebhookSender {
  private worker: Worker | undefined;
  private nextId = 0;
  private nextRoute = 0;
  private readonly pending = new Map<number, (result: SendResult) => void>();
  /** Routes the current thread knows, by signing context (a new context per subscriber change). */
  private routes = new WeakMap<SigningContext, KnownRoute>();
  private batch: SendBatch = emptyBatch();
  private forgotten: number[] = [];
  private readonly collected = new FinalizationRegistry<number>((id) => this.forgotten.push(id));
  private closed = false;

  constructor(private readonly options: SendWorkerData) {}

  deliver(request: SignedRequest): Promise<SendResult> {
    if (this.closed) return Promise.resolve(failed('the sender is shut down'));
    const id = this.nextId++;
    const batch = this.batch;
    if (batch.jobs.length === 0) queueMicrotask(() => this.post());
    batch.jobs.push(id, this.route(request, batch), request.eventId, request.body, request.attemptedAt);
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  private route(request: SignedRequest, batch: SendBatch): number {
    const known = this.routes.get(request.signing);
    if (known && known.url === request.url && known.userAgent === request.userAgent && known.timeoutMs === request.timeoutMs) return known.id;
    const id = this.nextRoute++;
    const { url, signing, userAgent, timeoutMs } = request;
    if (known) batch.forget.push(known.id);
    else this.collected.register(signing, id);
    this.routes.set(signing, { id, url, userAgent, timeoutMs });
    batch.routes.push([id, { url, signing, userAgent, timeoutMs }]);
    return id;
  }

  private post(): void {
    const batch = this.batch;
    this.batch = emptyBatch();
    if (batch.jobs.length === 0) return;
    if (this.forgotten.length > 0) {
      batch.forget.push(...this.forgotten);
      this.forgotten = [];
    }
    this.thread().postMessage(batch);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // A small young generation: the thread's garbage is short-lived request state, and memory is part of the budget.
    const worker = new Worker(ENTRY, { workerData: this.options satisfies SendWorkerData, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
    worker.on('message', (results: ResultBatch) => {
      for (let i = 0; i < results.length; i += RESULT_FIELDS) {
        const id = results[i] as number;
        const resolve = this.pending.get(id);
        this.pending.delete(id);
        resolve?.({
          responseCode: results[i + 1] as number,
          durationMs: results[i + 2] as number,
          responseBody: results[i + 3] as string | null,
          error: results[i + 4] as string | null,
          retryAfter: results[i + 5] as string | undefined,
        });
      }
    });
    // A thread that dies fails the attempts it held (they are retried like any network error); the next send starts
    // a new one, which knows no routes yet.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.routes = new WeakMap();
      }
      const reason = this.closed ? 'the sender is shut down' : 'the sending thread stopped unexpectedly';
      for (const resolve of this.pending.values()) resolve(failed(reason));
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }
}

const emptyBatch = (): SendBatch => ({ routes: [], forget: [], jobs: [] });
const failed = (error: string): SendResult => ({ responseCode: 0, durationMs: 0, responseBody: null, error, retryAfter: undefined });
