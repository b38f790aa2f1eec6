import { describe, expect, it } from 'vitest';
import { newEventId, newSecret, ulid } from '../../src/domain/ids.ts';

const CROCKFORD = /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{26}$/;

describe('ulid', () => {
  it('is 26 Crockford base32 characters', () => {
    expect(ulid(Date.UTC(2026, 10, 1))).toMatch(CROCKFORD);
  });

  it.each([
    [0, '0000000000'],
    [1, '0000000001'],
    [32, '0000000010'],
    [1469918176385, '01ARYZ6S41'], // the ULID specification's example timestamp
    [2 ** 48 - 1, '7ZZZZZZZZZ'],
  ])('encodes the time %i in the first ten characters as %s', (now, prefix) => {
    expect(ulid(now).slice(0, 10)).toBe(prefix);
  });

  it('sorts by time: a later ms gives a larger string', () => {
    const times = [0, 1, 31, 32, 1000, 1_614_265_330_000, Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 1) + 1, Date.UTC(2100, 0, 1)];
    for (let i = 1; i < times.length; i++) {
      for (let k = 0; k < 20; k++) expect(ulid(times[i - 1]) < ulid(times[i])).toBe(true);
    }
  });

  it('gives different ids within the same millisecond, across refills of its pool of random bytes', () => {
    const now = Date.UTC(2026, 10, 1);
    // 256 ids use up one 4 KiB pool: 5 000 cross it nineteen times.
    const ids = new Set(Array.from({ length: 5000 }, () => ulid(now)));
    expect(ids.size).toBe(5000);
  });

  it('draws every character of the random part from the whole alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) for (const c of ulid(0).slice(10)) seen.add(c);
    expect(seen.size).toBe(32);
  });

  it('defaults to the current time', () => {
    const before = ulid(Date.now() - 1);
    const id = ulid();
    const after = ulid(Date.now() + 1);
    expect(id.slice(0, 10) >= before.slice(0, 10)).toBe(true);
    expect(id.slice(0, 10) <= after.slice(0, 10)).toBe(true);
  });
});

describe('newEventId', () => {
  it('is evt_ followed by a ULID', () => {
    for (let i = 0; i < 100; i++) expect(newEventId()).toMatch(/^evt_[0-9A-Z]{26}$/);
  });

  it('sorts by creation time', () => {
    expect(newEventId(1000) < newEventId(1001)).toBe(true);
    expect(newEventId(Date.UTC(2026, 0, 1)) < newEventId(Date.UTC(2026, 0, 2))).toBe(true);
  });

  it('uses the given time', () => {
    expect(newEventId(1469918176385).slice(0, 14)).toBe('evt_01ARYZ6S41');
  });
});

describe('newSecret', () => {
  it('is whsec_ followed by base64 that decodes to 32 bytes', () => {
    for (let i = 0; i < 50; i++) {
      const secret = newSecret();
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
      expect(bytes).toHaveLength(32);
      expect(bytes.toString('base64')).toBe(secret.slice('whsec_'.length));
    }
  });

  it('differs each time', () => {
    expect(new Set(Array.from({ length: 100 }, () => newSecret())).size).toBe(100);
  });
});
