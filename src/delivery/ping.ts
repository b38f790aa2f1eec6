// POST …/subscriber/{id}/ping: one signed `ping` event sent now, answered with what the endpoint did.
import { serializeEnvelope } from '../domain/envelope.ts';
import { newEventId } from '../domain/ids.ts';
import type { DispatchSubscriber } from '../store/index.ts';
import { VERSION } from '../version.ts';
import { signingContext } from './request.ts';
import type { WebhookSender } from './sender.ts';

export const PING_SLUG = 'system/webhook/ping/v1';

export interface PingResult {
  status: 'SUCCESS' | 'FAILED';
  code: number;
  message: string;
  response_time: number;
}

export async function pingSubscriber(subscriber: DispatchSubscriber, sender: WebhookSender, now: number = Date.now()): Promise<PingResult> {
  const eventId = newEventId(now);
  const body = serializeEnvelope({
    eventId,
    slug: PING_SLUG,
    createdAt: now,
    traceId: [],
    companyId: subscriber.association.company_id,
    applicationId: null,
    payload: { subscriber_id: subscriber.id, message: 'ping from hookd' },
  });
  const sent = await sender.deliver({
    url: subscriber.webhook_url,
    signing: signingContext(subscriber),
    eventId,
    body,
    userAgent: `hookd/${VERSION}`,
    attemptedAt: now,
    timeoutMs: subscriber.timeout_ms,
    outsideLimit: true,
  });
  const ok = sent.responseCode >= 200 && sent.responseCode < 300;
  return {
    status: ok ? 'SUCCESS' : 'FAILED',
    code: sent.responseCode,
    message: ok ? `HTTP ${sent.responseCode}` : (sent.error ?? `HTTP ${sent.responseCode}`),
    response_time: sent.durationMs,
  };
}
