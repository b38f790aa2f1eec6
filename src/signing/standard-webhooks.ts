// Standard Webhooks signatures: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>.
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/** The HMAC key: the base64-decoded part of a `whsec_` secret, otherwise the secret's UTF-8 bytes. */
export function signingKey(secret: string): Buffer {
  const key = secret.startsWith(PREFIX) ? Buffer.from(secret.slice(PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
  // In a buffer of its own: a key crosses to the sending thread with every attempt, and a small Buffer is a view of
  // Node's shared 8 KiB pool, which a postMessage copies whole.
  const own = Buffer.allocUnsafeSlow(key.length);
  key.copy(own);
  return own;
}

export function signStandard(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** One space-separated header value with a signature per key (several during a secret rotation). */
export function webhookSignatureHeader(keys: Buffer[], id: string, timestampSeconds: number, body: string): string {
  return keys.map((key) => signStandard(key, id, timestampSeconds, body)).join(' ');
}
