// One HTTP attempt with undici: pooled keep-alive connections per origin, a hard deadline, a capped response body.
import { setMaxListeners } from 'node:events';
import { Agent } from 'undici';
import { attemptHeaders, type SigningContext } from './request.ts';
import { blockedAddressReason, guardedLookup, type Lookup } from './ssrf.ts';

export const RESPONSE_BODY_LIMIT = 4096;

export interface SendResult {
  /** HTTP status, or 0 when no response came (network error or time-out). */
  responseCode: number;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  retryAfter: string | undefined;
}

/** One signed attempt: the headers are made (and the body signed) by whoever sends it. */
export interface SignedRequest {
  url: string;
  signing: SigningContext;
  eventId: string;
  body: string;
  userAgent: string;
  /** Epoch ms: the signature's timestamp. */
  attemptedAt: number;
  timeoutMs: number;
}

/** What the dispatcher and ping need of an HTTP sender: the in-process Sender, or ThreadedSender around one. */
export interface WebhookSender {
  deliver(request: SignedRequest): Promise<SendResult>;
  close(): Promise<void>;
}

export interface SenderOptions {
  /** Let webhooks reach loopback and private addresses (tests, local development). */
  allowPrivateNetworks: boolean;
  /** The DNS lookup behind the connect-time guard (the system resolver unless a test gives another). */
  lookup?: Lookup;
}

/** Attempt deadlines are rounded up to this many ms, so that attempts ending together share one timer and signal. */
const DEADLINE_STEP_MS = 10;

export class Sender implements WebhookSender {
  private readonly agent: Agent;
  private readonly guard: boolean;
  /** Deadline (epoch ms, a multiple of DEADLINE_STEP_MS) → the signal that aborts every attempt due by then. */
  private readonly deadlines = new Map<number, AbortSignal>();
  /** Webhook URL → where undici sends it, parsed once rather than per attempt. */
  private readonly targets = new Map<string, { origin: string; path: string; hostname: string }>();

  constructor(options: SenderOptions = { allowPrivateNetworks: false }) {
    this.guard = !options.allowPrivateNetworks;
    // Redirects are never followed (undici's request does not), so a 3xx cannot lead anywhere the guard did not see.
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connect: this.guard ? { timeout: 10_000, lookup: guardedLookup(options.lookup) } : { timeout: 10_000 },
    });
  }

  deliver(r: SignedRequest): Promise<SendResult> {
    return this.send(r.url, attemptHeaders(r.signing, r.eventId, r.body, r.userAgent, r.attemptedAt), r.body, r.timeoutMs);
  }

  async send(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<SendResult> {
    const started = performance.now();
    const target = this.target(url);
    if (this.guard) {
      // An IP literal is dialled without a lookup, so the connect-time guard would not see it.
      const refused = blockedAddressReason(target.hostname);
      if (refused) {
        return { responseCode: 0, durationMs: 0, responseBody: null, error: `refused to connect: ${refused} (SSRF guard)`, retryAfter: undefined };
      }
    }
    const signal = this.deadline(timeoutMs);
    try {
      const res = await this.agent.request({
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers,
        body,
        signal,
        // Back-stops only: the deadline's signal ends the attempt first, with its own message.
        headersTimeout: timeoutMs + 2 * DEADLINE_STEP_MS,
        bodyTimeout: timeoutMs + 2 * DEADLINE_STEP_MS,
      });
      const responseBody = await readCapped(res.body);
      const retryAfter = res.headers['retry-after'];
      return {
        responseCode: res.statusCode,
        durationMs: elapsed(started),
        responseBody,
        error: res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      };
    } catch (err) {
      const timedOut = signal.aborted;
      return {
        responseCode: 0,
        durationMs: elapsed(started),
        responseBody: null,
        error: timedOut ? `timed out after ${timeoutMs} ms` : describeNetworkError(err),
        retryAfter: undefined,
      };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * A signal that aborts at most DEADLINE_STEP_MS after `timeoutMs` from now. One timer per step, not one per attempt
   * (AbortSignal.timeout's timer and signal were a measurable share of the sending thread's time).
   */
  private deadline(timeoutMs: number): AbortSignal {
    const now = Date.now();
    const at = Math.ceil((now + timeoutMs) / DEADLINE_STEP_MS) * DEADLINE_STEP_MS;
    let signal = this.deadlines.get(at);
    if (!signal) {
      const controller = new AbortController();
      signal = controller.signal;
      setMaxListeners(0, signal); // one listener per attempt due in this step
      this.deadlines.set(at, signal);
      setTimeout(() => {
        this.deadlines.delete(at);
        controller.abort();
      }, at - now).unref();
    }
    return signal;
  }

  private target(url: string): { origin: string; path: string; hostname: string } {
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

/** Keeps the first 4 KiB; drains up to 64 KiB more so the connection can be reused, then gives up on it. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let seen = 0;
  for await (const chunk of body) {
    if (kept < RESPONSE_BODY_LIMIT) {
      const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
      chunks.push(part);
      kept += part.length;
    }
    seen += chunk.length;
    if (seen > 64 * 1024) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.cause?.code === 'EHOOKDSSRF' || e.code === 'EHOOKDSSRF') return `${e.cause?.message ?? e.message} (SSRF guard)`;
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code ? `${code}: ${message}` : message;
}
