// Request limits beyond the body size: JSON nesting depth, well-formed Unicode, and a per-organization publish rate.
import type { FastifyInstance } from 'fastify';
import { HookdError } from '../errors.ts';

export const MAX_JSON_DEPTH = 64;

/** Depth of a parsed JSON value, measured without recursion so a hostile body cannot exhaust the stack. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Which top-level field of a parsed JSON body holds a string (or key) with a lone UTF-16 surrogate such as
 * "\ud800", or null. Such a string is not Unicode text (RFC 7493 §2.1): SQLite would store it as invalid UTF-8
 * and read it back mangled, so it is refused instead. Iterative, like the depth check.
 */
export function loneSurrogateField(body: unknown): string | null {
  const stack: [unknown, string][] = [[body, 'body']];
  while (stack.length > 0) {
    const [node, field] = stack.pop()!;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) return field;
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const top = node === body;
    if (Array.isArray(node)) for (const child of node) stack.push([child, field]);
    else {
      for (const [key, child] of Object.entries(node)) {
        if (LONE_SURROGATE.test(key)) return top ? 'body' : field;
        stack.push([child, top ? `body.${key}` : field]);
      }
    }
  }
  return null;
}

export function installDepthLimit(app: FastifyInstance, limit = MAX_JSON_DEPTH): void {
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined && jsonDepthExceeds(request.body, limit)) {
      throw new HookdError('VALIDATION_ERROR', `body is nested deeper than ${limit} levels`);
    }
    const surrogate = request.body === undefined ? null : loneSurrogateField(request.body);
    if (surrogate) {
      throw new HookdError('VALIDATION_ERROR', `${surrogate} holds a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode`);
    }
  });
}

/**
 * A token bucket per organization: `ratePerSecond` events refill continuously, up to a burst of twice that.
 * In memory, per process: with several processes each enforces its own share.
 */
export class PublishRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly ratePerSecond: number) {}

  /** Takes `events` tokens or throws 429 with the seconds to wait. A rate of 0 means no limit. */
  take(organizationId: string, events: number, now: number = Date.now()): void {
    if (this.ratePerSecond <= 0) return;
    const burst = this.ratePerSecond * 2;
    const bucket = this.buckets.get(organizationId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    if (events > bucket.tokens) {
      this.buckets.set(organizationId, bucket);
      const waitSeconds = Math.max(1, Math.ceil((events - bucket.tokens) / this.ratePerSecond));
      throw Object.assign(
        new HookdError('RATE_LIMITED', `organization ${organizationId} publishes more than ${this.ratePerSecond} events per second; retry after ${waitSeconds} s`),
        { retryAfterSeconds: waitSeconds },
      );
    }
    bucket.tokens -= events;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(organizationId, bucket);
  }
}
