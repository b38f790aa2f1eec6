// The retry schedule as one pure function: when, if ever, a failed delivery is attempted again.
import type { RetryPolicy } from './types.ts';

export const MIN_BACKOFF_MS = 100;
export const JITTER = 0.2;

export interface RetryInput {
  policy: RetryPolicy;
  /** Attempts made so far, including the one that just failed (1 after the first). */
  attempts: number;
  /** When the delivery was first attempted, epoch ms. */
  firstAttemptAt: number;
  now: number;
  /** Delay the subscriber asked for with Retry-After, in ms. */
  retryAfterMs?: number | null;
  /** A number in [0, 1); injected so the schedule is testable. */
  random: number;
}

/** The epoch ms of the next attempt, or null when the policy gives up. */
export function nextAttemptAt(input: RetryInput): number | null {
  const { policy, attempts, firstAttemptAt, now } = input;
  if (attempts >= policy.max_attempts) return null;
  const base = Math.min(policy.initial_backoff_ms * 2 ** (attempts - 1), policy.max_backoff_ms);
  const jittered = base * (1 - JITTER + 2 * JITTER * input.random);
  let delay = Math.max(MIN_BACKOFF_MS, Math.min(jittered, policy.max_backoff_ms));
  if (input.retryAfterMs != null && input.retryAfterMs > delay) delay = input.retryAfterMs;
  const at = Math.round(now + delay);
  if (at > firstAttemptAt + policy.max_age_seconds * 1000) return null;
  return at;
}

/** Retry-After as ms from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return null;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form carries hh:mm:ss; without this, Date.parse's leniency reads "1.5" or "x 2030" as dates.
  if (!/\d{2}:\d{2}:\d{2}/.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
