// One HTTP attempt with undici: pooled keep-alive connections per origin, a hard deadline, a capped response body.
import { Agent, type Dispatcher } from 'undici';
import { attemptHeaders, type AttemptSignatures, type SigningContext } from './request.ts';
import { blockedAddressReason, guardedLookup, type Lookup } from './ssrf.ts';

export const RESPONSE_BODY_LIMIT = 4096;
/** How much of a response is read (and dropped past RESPONSE_BODY_LIMIT) before its connection is given up. */
const RESPONSE_DRAIN_LIMIT = 64 * 1024;

export interface SendResult {
  /** HTTP status, or 0 when no response came (network error or time-out). */
  responseCode: number;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  retryAfter: string | undefined;
  /** Never sent: it could not start by its sendBy (every connection slot was busy until then). */
  unsent?: true;
}

/** One signed attempt: the headers are made (and the body signed) by whoever sends it. */
export interface SignedRequest {
  url: string;
  signing: SigningContext;
  eventId: string;
  /** The JSON text, or its UTF-8 bytes (a claimed delivery's: undici sends those as they are, a string it encodes). */
  body: string | Uint8Array;
  userAgent: string;
  /** Epoch ms: the signature's timestamp. */
  attemptedAt: number;
  timeoutMs: number;
  /** Epoch ms: if it has not started by then (waiting for a slot), it is not sent at all (SendResult.unsent). */
  sendBy?: number;
  /** Sent at once, beside the maxActive on the wire: a ping, which a person waits for, never queues behind deliveries. */
  outsideLimit?: boolean;
  /** Made already for this body and attemptedAt; made when the attempt starts otherwise. */
  signatures?: AttemptSignatures;
}

/** What the dispatcher and ping need of an HTTP sender: the in-process Sender, or ThreadedSender around one. */
export interface WebhookSender {
  deliver(request: SignedRequest): Promise<SendResult>;
  /**
   * deliver() with a callback: the dispatcher sends every delivery this way, and a promise (with the reaction that
   * awaits it) per attempt was garbage that lived as long as the attempt. `done` may run before this returns (a sender
   * that is shut down, the SSRF guard refusing an IP literal) and may itself send again.
   */
  deliverThen(request: SignedRequest, done: (result: SendResult) => void): void;
  /** Makes ready to send (ThreadedSender: boots the sending thread), so that the first attempt does not wait for it. */
  boot?(): Promise<void>;
  close(): Promise<void>;
}

export interface SenderOptions {
  /** Let webhooks reach loopback and private addresses (tests, local development). */
  allowPrivateNetworks: boolean;
  /** The DNS lookup behind the connect-time guard (the system resolver unless a test gives another). */
  lookup?: Lookup;
  /** At most this many requests on the wire at once; the others wait their turn in order. Unlimited without it. */
  maxActive?: number;
}

/** An attempt waiting for a slot. */
interface Waiting {
  target: Target;
  /** Given, or made from `signed` when the attempt starts. */
  headers: Record<string, string> | undefined;
  /**
   * Signed when it starts, not while it waits: a few hundred attempts wait in this thread under load, and their headers
   * lived long enough to be copied by each scavenge and then promoted.
   */
  signed: SignedRequest | undefined;
  body: string | Uint8Array;
  timeoutMs: number;
  sendBy: number | undefined;
  resolve: (result: SendResult) => void;
}

interface Target {
  origin: string;
  path: string;
  hostname: string;
}

/** An attempt that got no response: a network error, a time-out, a refusal, or not sent at all. */
export const noResponse = (error: string, durationMs = 0): SendResult => ({ responseCode: 0, durationMs, responseBody: null, error, retryAfter: undefined });

const UNSENT: SendResult = { ...noResponse('not sent: no connection slot came free in time'), unsent: true };

/** Attempt deadlines are rounded up to this many ms, so that attempts ending together share one timer. */
const DEADLINE_STEP_MS = 10;

/**
 * One attempt in flight, as undici's handler of its response. Sent with `dispatch`, not `request`: `request` wraps
 * every response in a Readable stream, an async resource and a parsed copy of its headers, and for the few bytes a
 * webhook answers that was a quarter of the sending thread's CPU time per attempt (76 → 56 µs, 64 attempts at a time
 * to a local receiver, signing included).
 */
class Attempt implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private settled = false;
  private status = 0;
  private retryAfter: string | undefined;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly deadline: Set<Attempt>,
    private readonly settle: (result: SendResult) => void,
  ) {
    deadline.add(this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Timed out while it waited for a connection: it is never written.
    if (this.settled) controller.abort(new Error('attempt timed out'));
    else this.controller = controller;
  }

  /** Called again for the final answer after an informational one (103 Early Hints), which it then replaces. */
  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    const retryAfter = headers['retry-after'];
    this.retryAfter = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.kept < RESPONSE_BODY_LIMIT) {
      const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - this.kept);
      this.chunks.push(part);
      this.kept += part.length;
    }
    this.seen += chunk.length;
    // Too much to drain for the connection's sake: answer with what was kept and drop the connection.
    if (this.seen > RESPONSE_DRAIN_LIMIT) {
      this.answer();
      controller.abort(new Error('response body too large to drain'));
    }
  }

  onResponseEnd(): void {
    this.answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(describeNetworkError(error));
  }

  /** The deadline passed. */
  timeOut(): void {
    if (this.settled) return;
    this.fail(`timed out after ${this.timeoutMs} ms`);
    this.controller?.abort(new Error('attempt timed out'));
  }

  private answer(): void {
    const code = this.status;
    this.finish({
      responseCode: code,
      durationMs: elapsed(this.started),
      responseBody: Buffer.concat(this.chunks).toString('utf8'),
      error: code >= 200 && code < 300 ? null : `HTTP ${code}`,
      retryAfter: this.retryAfter,
    });
  }

  private fail(error: string): void {
    this.finish(noResponse(error, elapsed(this.started)));
  }

  private finish(result: SendResult): void {
    if (this.settled) return;
    this.settled = true;
    this.deadline.delete(this);
    this.settle(result);
  }
}

export class Sender implements WebhookSender {
  private readonly agent: Agent;
  private readonly guard: boolean;
  private readonly maxActive: number;
  private active = 0;
  /** Attempts waiting for a slot, oldest first. */
  private waiting: Waiting[] = [];
  /** Deadline (epoch ms, a multiple of DEADLINE_STEP_MS) → the attempts in flight that it ends. */
  private readonly deadlines = new Map<number, Set<Attempt>>();
  /** Webhook URL → where undici sends it, parsed once rather than per attempt. */
  private readonly targets = new Map<string, Target>();

  constructor(options: SenderOptions = { allowPrivateNetworks: false }) {
    this.guard = !options.allowPrivateNetworks;
    this.maxActive = options.maxActive ?? Infinity;
    // Redirects are never followed (a plain dispatch does not), so a 3xx cannot lead anywhere the guard did not see.
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connect: this.guard ? { timeout: 10_000, lookup: guardedLookup(options.lookup) } : { timeout: 10_000 },
    });
  }

  deliver(r: SignedRequest): Promise<SendResult> {
    return new Promise((resolve) => this.enqueue(r.url, undefined, r, r.body, r.timeoutMs, r.sendBy, r.outsideLimit, resolve));
  }

  deliverThen(r: SignedRequest, done: (result: SendResult) => void): void {
    this.enqueue(r.url, undefined, r, r.body, r.timeoutMs, r.sendBy, r.outsideLimit, done);
  }

  /** `timeoutMs` and the result's durationMs count from when the request starts, not from a wait for a slot. */
  send(url: string, headers: Record<string, string>, body: string | Uint8Array, timeoutMs: number, sendBy?: number, outsideLimit = false): Promise<SendResult> {
    return new Promise((resolve) => this.enqueue(url, headers, undefined, body, timeoutMs, sendBy, outsideLimit, resolve));
  }

  private enqueue(
    url: string,
    headers: Record<string, string> | undefined,
    signed: SignedRequest | undefined,
    body: string | Uint8Array,
    timeoutMs: number,
    sendBy: number | undefined,
    outsideLimit: boolean | undefined,
    resolve: (result: SendResult) => void,
  ): void {
    const target = this.target(url);
    if (this.guard) {
      // An IP literal is dialled without a lookup, so the connect-time guard would not see it.
      const refused = blockedAddressReason(target.hostname);
      if (refused) return resolve(noResponse(`refused to connect: ${refused} (SSRF guard)`));
    }
    const job: Waiting = { target, headers, signed, body, timeoutMs, sendBy, resolve };
    if (outsideLimit || this.active < this.maxActive) this.start(job);
    else this.waiting.push(job);
  }

  private start(job: Waiting): void {
    const { target, signed, body, timeoutMs, resolve } = job;
    const headers = job.headers ?? attemptHeaders(signed!.signing, signed!.eventId, body, signed!.userAgent, signed!.attemptedAt, signed!.signatures);
    this.active++;
    const attempt = new Attempt(performance.now(), timeoutMs, this.deadline(timeoutMs), (result) => {
      this.active--;
      // The freed slot first goes to what waits: `resolve` may send again at once (deliverThen), and would jump the line.
      this.startWaiting();
      resolve(result);
    });
    this.agent.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers,
        body,
        // Back-stops only: the deadline ends the attempt first, with its own message.
        headersTimeout: timeoutMs + 2 * DEADLINE_STEP_MS,
        bodyTimeout: timeoutMs + 2 * DEADLINE_STEP_MS,
      },
      attempt,
    );
  }

  /** Fills free slots from the waiting attempts, in order; one whose sendBy has passed is answered unsent. */
  private startWaiting(): void {
    while (this.active < this.maxActive && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      if (job.sendBy !== undefined && Date.now() > job.sendBy) job.resolve(UNSENT);
      else this.start(job);
    }
  }

  /** Attempts on the wire or waiting for a slot. */
  get pending(): number {
    return this.active + this.waiting.length;
  }

  async close(): Promise<void> {
    const waiting = this.waiting;
    this.waiting = [];
    // A failure like any other, as ThreadedSender answers its pending sends when it stops (not `unsent`: the
    // dispatcher has already handed back its leases by then).
    for (const job of waiting) job.resolve(noResponse('the sender is shut down'));
    await this.agent.close();
  }

  /**
   * The attempts that end at most DEADLINE_STEP_MS after `timeoutMs` from now. One timer per step, not one per
   * attempt (a timer and an AbortSignal per attempt were a measurable share of the sending thread's time).
   */
  private deadline(timeoutMs: number): Set<Attempt> {
    const now = Date.now();
    const at = Math.ceil((now + timeoutMs) / DEADLINE_STEP_MS) * DEADLINE_STEP_MS;
    let attempts = this.deadlines.get(at);
    if (!attempts) {
      const due = new Set<Attempt>();
      attempts = due;
      this.deadlines.set(at, due);
      setTimeout(() => {
        this.deadlines.delete(at);
        for (const attempt of due) attempt.timeOut();
      }, at - now).unref();
    }
    return attempts;
  }

  private target(url: string): Target {
    let target = this.targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, hostname: parsed.hostname };
      if (this.targets.size >= 10_000) this.targets.clear(); // a bound, not an eviction policy: URLs rarely change
      this.targets.set(url, target);
    }
    return target;
  }
}

const elapsed = (started: number): number => Math.round((performance.now() - started) * 100) / 100;

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.cause?.code === 'EHOOKDSSRF' || e.code === 'EHOOKDSSRF') return `${e.cause?.message ?? e.message} (SSRF guard)`;
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code ? `${code}: ${message}` : message;
}
