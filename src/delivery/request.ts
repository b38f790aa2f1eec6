// What one attempt sends: the headers API.md § What a subscriber receives fixes, signed for this attempt.
import { fpKey, signFp } from '../signing/fp-signature.ts';
import { hmacKey, type HmacKey } from '../signing/hmac.ts';
import { signingKey, signStandard, webhookSignatureHeader } from '../signing/standard-webhooks.ts';
import type { Subscriber } from '../domain/types.ts';

/** Headers a subscriber's custom_headers may not replace: they carry the signature and framing. */
const RESERVED = new Set([
  'content-type', 'content-length', 'user-agent', 'host', 'connection', 'transfer-encoding',
  'webhook-id', 'webhook-timestamp', 'webhook-signature', 'x-fp-event-id', 'x-fp-signature',
]);

export const isReservedHeader = (name: string): boolean => RESERVED.has(name.toLowerCase());

/** A subscriber's HMAC keys, made once per secret (padded key blocks: nothing of the key is redone per HMAC). */
export interface SigningContext {
  /** webhook-signature's key (Standard Webhooks). */
  key: HmacKey;
  /** x-fp-signature's key: the secret's UTF-8 bytes. */
  fpKey: HmacKey;
  /** The key before the last rotation and until when (epoch ms) it still signs alongside. */
  previous: { key: HmacKey; until: number } | null;
  customHeaders: Record<string, string>;
}

type Signable = Subscriber & { previousSecret?: string | null; previousSecretUntil?: number | null };

export function signingContext(subscriber: Signable): SigningContext {
  const customHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(subscriber.custom_headers)) {
    if (!isReservedHeader(name)) customHeaders[name.toLowerCase()] = value;
  }
  const previous =
    subscriber.previousSecret && subscriber.previousSecretUntil
      ? { key: hmacKey(signingKey(subscriber.previousSecret)), until: subscriber.previousSecretUntil }
      : null;
  const secret = subscriber.auth_meta.secret;
  return { key: hmacKey(signingKey(secret)), fpKey: fpKey(secret), previous, customHeaders };
}

/** An attempt's two signatures: webhook-signature's value and x-fp-signature's. */
export type AttemptSignatures = [webhookSignature: string, fpSignature: string];

export function attemptSignatures(ctx: SigningContext, eventId: string, body: string | Uint8Array, nowMs: number): AttemptSignatures {
  const seconds = Math.floor(nowMs / 1000);
  // During a rotation both secrets sign (Standard Webhooks allows several space-separated signatures).
  const webhookSignature =
    ctx.previous && nowMs < ctx.previous.until
      ? webhookSignatureHeader([ctx.key, ctx.previous.key], eventId, seconds, body)
      : signStandard(ctx.key, eventId, seconds, body);
  return [webhookSignature, signFp(ctx.fpKey, body)];
}

/** `signatures`: made already for this body and nowMs (ThreadedSender signs on the main thread). */
export function attemptHeaders(
  ctx: SigningContext,
  eventId: string,
  body: string | Uint8Array,
  userAgent: string,
  nowMs: number,
  signatures: AttemptSignatures = attemptSignatures(ctx, eventId, body, nowMs),
): Record<string, string> {
  return {
    ...ctx.customHeaders,
    'content-type': 'application/json',
    'user-agent': userAgent,
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(nowMs / 1000)),
    'webhook-signature': signatures[0],
    'x-fp-event-id': eventId,
    'x-fp-signature': signatures[1],
  };
}
