// Fynd's x-fp-signature: hex HMAC-SHA256 of the body, keyed with the secret's UTF-8 bytes.
import { hmacKey, hmacSha256, type HmacKey } from './hmac.ts';

/** The secret as x-fp-signature's HMAC key, made once rather than per attempt. */
export const fpKey = (secret: string): HmacKey => hmacKey(Buffer.from(secret, 'utf8'));

/** `body`: the JSON text, or its UTF-8 bytes (the same signature). */
export const signFp = (secret: string | HmacKey, body: string | Uint8Array): string =>
  hmacSha256(typeof secret === 'string' ? fpKey(secret) : secret, '', body, 'hex');
