import { describe, expect, it } from 'vitest';
import { JITTER, MIN_BACKOFF_MS, nextAttemptAt, parseRetryAfter, type RetryInput } from '../../src/domain/retry.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/domain/types.ts';

const FIRST = Date.UTC(2026, 10, 1, 3, 0, 0);
const POLICY: RetryPolicy = { max_attempts: 20, max_age_seconds: 86_400, initial_backoff_ms: 1000, max_backoff_ms: 10_000 };
/** The largest double below 1: the top of the injected random's range [0, 1). */
const TOP = 1 - Number.EPSILON / 2;

/** The delay nextAttemptAt schedules, in ms from `now`. */
function delay(over: Partial<RetryInput> = {}): number | null {
  const input: RetryInput = { policy: POLICY, attempts: 1, firstAttemptAt: FIRST, now: FIRST + 1234, random: 0.5, ...over };
  const at = nextAttemptAt(input);
  return at === null ? null : at - input.now;
}

describe('nextAttemptAt', () => {
  it('uses the documented constants: ±20 % jitter and a 100 ms floor', () => {
    expect(JITTER).toBe(0.2);
    expect(MIN_BACKOFF_MS).toBe(100);
  });

  it.each([
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [4, 8000],
  ])('after attempt %i waits initial_backoff_ms·2^(n-1) = %i ms (no jitter at random 0.5)', (attempts, expected) => {
    expect(delay({ attempts })).toBe(expected);
  });

  it('returns an absolute epoch-ms time counted from now, not from the first attempt', () => {
    const now = FIRST + 60_000;
    expect(nextAttemptAt({ policy: POLICY, attempts: 1, firstAttemptAt: FIRST, now, random: 0.5 })).toBe(now + 1000);
  });

  it.each([1, 2, 3, 4])('after attempt %i jitters down to 80 % of the base at random 0', (attempts) => {
    const base = 1000 * 2 ** (attempts - 1);
    expect(delay({ attempts, random: 0 })).toBe(0.8 * base);
  });

  it.each([1, 2, 3, 4])('after attempt %i jitters up to just under 120 % of the base at random → 1', (attempts) => {
    const base = 1000 * 2 ** (attempts - 1);
    const d = delay({ attempts, random: TOP })!;
    expect(d).toBeLessThanOrEqual(1.2 * base);
    expect(d).toBeGreaterThanOrEqual(1.2 * base - 1);
  });

  it.each([0, 0.1, 0.25, 0.5, 0.75, 0.9, TOP])('keeps the delay within 80–120 percent of the base at random $0', (random) => {
    for (let attempts = 1; attempts <= 4; attempts++) {
      const base = 1000 * 2 ** (attempts - 1);
      const d = delay({ attempts, random })!;
      expect(d).toBeGreaterThanOrEqual(0.8 * base);
      expect(d).toBeLessThanOrEqual(1.2 * base);
    }
  });

  it.each([5, 6, 10, 19])('caps the delay at max_backoff_ms after attempt %i even with jitter up', (attempts) => {
    expect(delay({ attempts, random: TOP })).toBe(POLICY.max_backoff_ms);
    expect(delay({ attempts, random: 0.5 })).toBe(POLICY.max_backoff_ms);
  });

  it('still jitters down below max_backoff_ms once capped', () => {
    expect(delay({ attempts: 10, random: 0 })).toBe(0.8 * POLICY.max_backoff_ms);
  });

  it('does not overflow for very large attempt counts', () => {
    const policy = { ...POLICY, max_attempts: 10_000 };
    expect(delay({ policy, attempts: 5000, random: 0.5 })).toBe(POLICY.max_backoff_ms);
  });

  it.each([
    [{ initial_backoff_ms: 10 }, 0.5],
    [{ initial_backoff_ms: 120 }, 0],
    [{ initial_backoff_ms: 0 }, TOP],
    [{ initial_backoff_ms: 1000, max_backoff_ms: 50 }, 0.5],
  ])('never waits less than 100 ms (%j, random %d)', (over, random) => {
    expect(delay({ policy: { ...POLICY, ...over }, random })).toBe(100);
  });

  it('waits at least the Retry-After the endpoint sent', () => {
    expect(delay({ attempts: 1, retryAfterMs: 60_000 })).toBe(60_000);
  });

  it('lets Retry-After exceed max_backoff_ms', () => {
    expect(delay({ attempts: 10, retryAfterMs: 3 * POLICY.max_backoff_ms })).toBe(3 * POLICY.max_backoff_ms);
  });

  it.each([0, 10, 999, null, undefined])('keeps the backoff when Retry-After is shorter or absent (%j)', (retryAfterMs) => {
    expect(delay({ attempts: 1, retryAfterMs })).toBe(1000);
  });

  it('gives up after max_attempts', () => {
    const policy = { ...POLICY, max_attempts: 3 };
    expect(delay({ policy, attempts: 2 })).toBe(2000);
    expect(delay({ policy, attempts: 3 })).toBeNull();
    expect(delay({ policy, attempts: 4 })).toBeNull();
  });

  it('gives up at once when max_attempts is 1', () => {
    expect(delay({ policy: { ...POLICY, max_attempts: 1 }, attempts: 1 })).toBeNull();
  });

  it('gives up when the next attempt would fall past max_age_seconds', () => {
    const policy = { ...POLICY, max_age_seconds: 60 };
    const deadline = FIRST + 60_000;
    // 1000 ms backoff: landing exactly on the deadline is still allowed, one ms later is not.
    expect(nextAttemptAt({ policy, attempts: 1, firstAttemptAt: FIRST, now: deadline - 1000, random: 0.5 })).toBe(deadline);
    expect(nextAttemptAt({ policy, attempts: 1, firstAttemptAt: FIRST, now: deadline - 999, random: 0.5 })).toBeNull();
    expect(nextAttemptAt({ policy, attempts: 1, firstAttemptAt: FIRST, now: deadline + 5000, random: 0.5 })).toBeNull();
  });

  it('gives up when Retry-After asks to wait past max_age_seconds', () => {
    const policy = { ...POLICY, max_age_seconds: 60 };
    expect(delay({ policy, now: FIRST, retryAfterMs: 59_000 })).toBe(59_000);
    expect(delay({ policy, now: FIRST, retryAfterMs: 61_000 })).toBeNull();
  });

  it('returns whole milliseconds', () => {
    const at = nextAttemptAt({ policy: { ...POLICY, initial_backoff_ms: 333 }, attempts: 1, firstAttemptAt: FIRST, now: FIRST, random: 0.123 });
    expect(Number.isInteger(at)).toBe(true);
  });

  it('follows the documented default policy: 5 s, 10 s, 20 s … up to 4 h', () => {
    const d = (attempts: number) => delay({ policy: DEFAULT_RETRY_POLICY, attempts, now: FIRST });
    expect([1, 2, 3, 4].map(d)).toEqual([5000, 10_000, 20_000, 40_000]);
    expect(d(13)).toBe(14_400_000); // 5 s · 2^12 = 5.7 h, capped at 4 h
    expect(d(20)).toBeNull();
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0); // Wed, 21 Oct 2015 07:28:00 GMT

  it.each([
    ['120', 120_000],
    ['0', 0],
    ['1', 1000],
    [' 30 ', 30_000],
    ['86400', 86_400_000],
  ])('reads delta-seconds %j as %i ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it.each([
    ['Wed, 21 Oct 2015 07:29:00 GMT', 60_000], // IMF-fixdate
    ['Wednesday, 21-Oct-15 07:30:00 GMT', 120_000], // obsolete RFC 850
    ['Wed Oct 21 07:28:30 2015', 30_000], // obsolete asctime (GMT)
    ['Wed, 21 Oct 2015 07:28:00 GMT', 0],
  ])('reads the HTTP date %j as %i ms from now', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('reads an HTTP date in the past as 0, not negative', () => {
    expect(parseRetryAfter('Tue, 20 Oct 2015 07:28:00 GMT', now)).toBe(0);
  });

  it.each([undefined, '', '   ', 'soon', 'later please', '12 hours', '120s', '1.5', '-5', '1e3', 'x 2030', 'May'])(
    'returns null for an absent or unreadable value %j',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeNull();
    },
  );

  it('uses the first value when the header is repeated', () => {
    expect(parseRetryAfter(['5', '10'], now)).toBe(5000);
    expect(parseRetryAfter(['Wed, 21 Oct 2015 07:29:00 GMT', '1'], now)).toBe(60_000);
  });

  it('does not let an unreadable Retry-After push a delivery past max_age_seconds', () => {
    const retryAfterMs = parseRetryAfter('x 2030', now);
    expect(nextAttemptAt({ policy: POLICY, attempts: 1, firstAttemptAt: now, now, random: 0.5, retryAfterMs })).toBe(now + 1000);
  });

  it('returns null for an empty array', () => {
    expect(parseRetryAfter([], now)).toBeNull();
  });
});
