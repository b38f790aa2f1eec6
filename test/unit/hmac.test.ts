// hmacSha256 against node:crypto's createHmac: every key length around the block size, text and bytes, messages that
// fit the reused buffer and ones that do not, and keys that crossed a thread boundary (structured clone).
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKey, hmacSha256 } from '../../src/signing/hmac.ts';

const reference = (key: Uint8Array, prefix: string, message: string | Uint8Array, encoding: 'hex' | 'base64') =>
  createHmac('sha256', key).update(prefix).update(message).digest(encoding);

describe('hmacSha256', () => {
  const keys = [0, 1, 32, 63, 64, 65, 200].map((length) => randomBytes(length));
  const messages: (string | Uint8Array)[] = [
    '',
    '{"a":1}',
    '{"name":"Crème brûlée — 東京 🍮"}',
    new TextEncoder().encode('{"name":"Crème brûlée — 東京 🍮"}'),
    'x'.repeat(65_000), // beyond the reused buffer once its key block is added: createHmac signs it
    '€'.repeat(30_000), // 90 000 bytes of UTF-8
    randomBytes(70_000),
  ];

  it.each(keys.map((key) => [key.length, key] as const))('equals createHmac for a %i-byte key', (_length, key) => {
    const prepared = hmacKey(key);
    for (const message of messages) {
      for (const prefix of ['', 'evt_01HXYZ.1700000000.']) {
        expect(hmacSha256(prepared, prefix, message, 'hex')).toBe(reference(key, prefix, message, 'hex'));
        expect(hmacSha256(prepared, prefix, message, 'base64')).toBe(reference(key, prefix, message, 'base64'));
      }
    }
  });

  it('gives the same MAC for a shorter message signed after a longer one (the buffer is reused)', () => {
    const key = hmacKey(Buffer.from('secret'));
    const long = hmacSha256(key, '', 'y'.repeat(5000), 'hex');
    expect(hmacSha256(key, '', 'short', 'hex')).toBe(reference(Buffer.from('secret'), '', 'short', 'hex'));
    expect(hmacSha256(key, '', 'y'.repeat(5000), 'hex')).toBe(long);
  });

  it('signs the same with a key that was structured-cloned (as for the sending thread)', () => {
    const raw = randomBytes(40);
    const cloned = structuredClone(hmacKey(raw));
    expect(cloned.inner).toBeInstanceOf(Uint8Array);
    expect(hmacSha256(cloned, 'p.', '{"b":2}', 'base64')).toBe(reference(raw, 'p.', '{"b":2}', 'base64'));
  });
});
