// HMAC-SHA256 (RFC 2104) for the two signatures of every attempt, made from node:crypto's one-shot `hash()` with the
// key's two padded blocks computed once per key. `createHmac` builds a native object per MAC, which V8 tracks with a
// weak handle: two per delivery cost ~2 µs each to set up, and processing the thousands that died between two
// scavenges was a third of each of the main thread's scavenge pauses (bench, --trace-gc-nvp: 1.8 of 5.4 ms). Here a
// MAC is two digests of a reused buffer: 3.3 against 4.5 µs for both signatures of a delivery in a loop, and no
// garbage but the result. createHmac still signs what does not fit that buffer.
import { createHash, createHmac, hash } from 'node:crypto';

const BLOCK = 64;
const DIGEST = 32;
const IPAD = 0x36;
const OPAD = 0x5c;

/** A key as HMAC-SHA256 uses it: its block XORed with each pad. Plain bytes, so it crosses to the sending thread. */
export interface HmacKey {
  inner: Uint8Array;
  outer: Uint8Array;
}

export function hmacKey(key: Uint8Array): HmacKey {
  const block = new Uint8Array(BLOCK);
  // A key longer than the block is its digest (RFC 2104 § 2); a shorter one is padded with zeros.
  block.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key);
  const inner = new Uint8Array(BLOCK);
  const outer = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = block[i]! ^ IPAD;
    outer[i] = block[i]! ^ OPAD;
  }
  return { inner, outer };
}

/** The inner digest's input (inner block, prefix, message) is written here; larger inputs go to createHmac. */
const scratch = Buffer.allocUnsafe(64 * 1024);
const outerInput = Buffer.allocUnsafe(BLOCK + DIGEST);

/**
 * HMAC-SHA256 of `prefix` followed by `message` (text as UTF-8, or bytes), in `encoding`. Synchronous and with
 * module-level buffers: each thread has its own.
 */
export function hmacSha256(key: HmacKey, prefix: string, message: string | Uint8Array, encoding: 'hex' | 'base64'): string {
  // At most 3 bytes of UTF-8 per UTF-16 unit: a bound that needs no pass over the text.
  const room = BLOCK + 3 * prefix.length + (typeof message === 'string' ? 3 * message.length : message.length);
  if (room > scratch.length) return slowHmac(key, prefix, message, encoding);
  scratch.set(key.inner, 0);
  let end = BLOCK + scratch.write(prefix, BLOCK, 'utf8');
  if (typeof message === 'string') end += scratch.write(message, end, 'utf8');
  else {
    scratch.set(message, end);
    end += message.length;
  }
  // 'binary' (latin1): the digest's 32 bytes as one character each, written back as the same bytes (no Buffer made).
  const innerDigest = hash('sha256', scratch.subarray(0, end), 'binary');
  outerInput.set(key.outer, 0);
  outerInput.write(innerDigest, BLOCK, 'binary');
  return hash('sha256', outerInput, encoding);
}

/** The same MAC through createHmac, from the key's inner block (the key block is inner XOR the inner pad). */
function slowHmac(key: HmacKey, prefix: string, message: string | Uint8Array, encoding: 'hex' | 'base64'): string {
  const block = Buffer.from(key.inner.map((b) => b ^ IPAD));
  return createHmac('sha256', block).update(prefix).update(message).digest(encoding);
}
