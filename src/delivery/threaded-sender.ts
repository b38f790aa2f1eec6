// Sends webhooks from a worker thread, so signing and HTTP work (HMACs, undici, sockets, response parsing) run on the
// second core while the main thread routes, claims and records. Jobs started in one turn of the event loop cross in
// one message.
import { Worker } from 'node:worker_threads';
import type { SendResult, SignedRequest, WebhookSender } from './sender.ts';

export interface SendWorkerData {
  allowPrivateNetworks: boolean;
}

/** [job id, the request: its signing context crosses as a copy (a few bytes of key and secret)] */
export type SendJob = [number, SignedRequest];

const ENTRY = new URL('./send-worker-entry.cjs', import.meta.url);

export class ThreadedSender implements WebhookSender {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (result: SendResult) => void>();
  private queued: SendJob[] = [];
  private closed = false;

  constructor(private readonly options: SendWorkerData) {}

  deliver(request: SignedRequest): Promise<SendResult> {
    if (this.closed) return Promise.resolve(failed('the sender is shut down'));
    const id = this.nextId++;
    if (this.queued.length === 0) queueMicrotask(() => this.post());
    this.queued.push([id, request]);
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  private post(): void {
    const jobs = this.queued;
    this.queued = [];
    if (jobs.length > 0) this.thread().postMessage(jobs);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // A small young generation: the thread's garbage is short-lived request state, and memory is part of the budget.
    const worker = new Worker(ENTRY, { workerData: this.options satisfies SendWorkerData, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
    worker.on('message', (results: [number, SendResult][]) => {
      for (const [id, result] of results) {
        this.pending.get(id)?.(result);
        this.pending.delete(id);
      }
    });
    // A thread that dies fails the attempts it held (they are retried like any network error); the next send starts
    // a new one.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
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

const failed = (error: string): SendResult => ({ responseCode: 0, durationMs: 0, responseBody: null, error, retryAfter: undefined });
