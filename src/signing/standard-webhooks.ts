// Standard Webhooks signatures: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>.
import { hmacKey, hmacSha256, type HmacKey } from './hmac.ts';

const PREFIX = 'whsec_';

/** The HMAC key: the base64-decoded part of a `whsec_` secret, otherwise the secret's UTF-8 bytes. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(PREFIX) ? Buffer.from(secret.slice(PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * `key`: an HmacKey made once per secret (request.ts's signing context), or the key's bytes. `body`: the JSON text, or
 * its UTF-8 bytes (the same signature).
 */
export function signStandard(key: HmacKey | Uint8Array, id: string, timestampSeconds: number, body: string | Uint8Array): string {
  const mac = hmacSha256(key instanceof Uint8Array ? hmacKey(key) : key, `${id}.${timestampSeconds}.`, body, 'base64');
  return `v1,${mac}`;
}

/** One space-separated header value with a signature per key (several during a secret rotation). */
export function webhookSignatureHeader(keys: (HmacKey | Uint8Array)[], id: string, timestampSeconds: number, body: string | Uint8Array): string {
  return keys.map((key) => signStandard(key, id, timestampSeconds, body)).join(' ');
}
