// For receiving endpoints: verify that a request really comes from hookd, and is fresh.
// `verifyWebhook` checks the Standard Webhooks headers; `verifyFpSignature` checks Fynd's x-fp-signature.
import { createHmac, timingSafeEqual } from 'node:crypto';

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export type HeaderBag = Record<string, string | string[] | undefined> | Headers;

export interface VerifyOptions {
  /** How far webhook-timestamp may be from now, either way (replay protection). Default 300 s. */
  toleranceSeconds?: number;
  /** For tests: the current time in ms. */
  now?: number;
}

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const value = bag[name] ?? bag[Object.keys(bag).find((k) => k.toLowerCase() === name) ?? ''];
  return Array.isArray(value) ? value[0] : value;
}

const toBuffer = (body: string | Buffer | Uint8Array) => (typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body));

const safeEqual = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** The HMAC key of a secret: the base64 part of a `whsec_` secret, otherwise its UTF-8 bytes. */
function keyOf(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * Verifies webhook-id / webhook-timestamp / webhook-signature over the raw body (the exact bytes received, not a
 * re-serialised object) and returns the parsed JSON body. Throws WebhookVerificationError otherwise.
 * During a secret rotation hookd sends several signatures; any one made with `secret` is enough.
 */
export function verifyWebhook<T = unknown>(rawBody: string | Buffer | Uint8Array, headers: HeaderBag, secret: string, options: VerifyOptions = {}): T {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp is not a number of seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s away from now (replayed or clock skew)`);
  }
  const body = toBuffer(rawBody);
  const expected = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.`).update(body).digest();
  const matched = signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    return version === 'v1' && value !== undefined && safeEqual(Buffer.from(value, 'base64'), expected);
  });
  if (!matched) throw new WebhookVerificationError('no webhook-signature matches this body and secret');
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new WebhookVerificationError('the body is not JSON');
  }
}

/** Verifies x-fp-signature (hex HMAC-SHA256 of the raw body with the secret's UTF-8 bytes); returns the parsed body. */
export function verifyFpSignature<T = unknown>(rawBody: string | Buffer | Uint8Array, signature: string | undefined, secret: string): T {
  if (!signature) throw new WebhookVerificationError('missing x-fp-signature header');
  const body = toBuffer(rawBody);
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest();
  if (!/^[0-9a-f]+$/i.test(signature) || !safeEqual(Buffer.from(signature, 'hex'), expected)) {
    throw new WebhookVerificationError('x-fp-signature does not match this body and secret');
  }
  return JSON.parse(body.toString('utf8')) as T;
}
