// Fynd's x-fp-signature: hex HMAC-SHA256 of the body, keyed with the secret's UTF-8 bytes.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** The secret as x-fp-signature's HMAC key, made once rather than per attempt. */
export const fpKey = (secret: string): KeyObject => createSecretKey(Buffer.from(secret, 'utf8'));

/** `body`: the JSON text, or its UTF-8 bytes (the same signature). */
export const signFp = (secret: string | KeyObject, body: string | Uint8Array): string =>
  createHmac('sha256', typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret).update(body).digest('hex');
