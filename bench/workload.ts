// The benchmark workload: S subscribers, events that each match F of them, and the bodies every run sends.
import { buildEnvelope } from '../src/domain/envelope.ts';

export interface Workload {
  events: number;
  subscribers: number;
  fanout: number;
  /** Size of one event's payload as JSON, in bytes. */
  payload_bytes: number;
  /** Requests (or jobs) in flight at once, the same for every run. */
  concurrency: number;
  /** events × fanout */
  deliveries: number;
}

export function makeWorkload(events: number, subscribers: number, fanout: number, concurrency: number, payloadBytes = 1024): Workload {
  if (!(events >= 1 && subscribers >= 1 && fanout >= 1 && concurrency >= 1)) throw new Error('--events, --subscribers, --fanout and --concurrency must be positive integers');
  if (fanout > subscribers) throw new Error(`--fanout (${fanout}) cannot exceed --subscribers (${subscribers})`);
  if (subscribers % fanout !== 0) throw new Error(`--subscribers (${subscribers}) must be a multiple of --fanout (${fanout})`);
  return { events, subscribers, fanout, payload_bytes: payloadBytes, concurrency, deliveries: events * fanout };
}

/** Number of distinct event slugs: subscriber i listens to slug (i mod groups), event j is published on slug (j mod groups). */
export const groups = (w: Workload): number => w.subscribers / w.fanout;

export const slugOf = (k: number): string => `company/bench/e${k}/v1`;

/** The subscribers (0-based) that event `seq` reaches. */
export function* targetsOf(w: Workload, seq: number): Generator<number> {
  const g = groups(w);
  for (let i = seq % g; i < w.subscribers; i += g) yield i;
}

/** Epoch milliseconds with sub-millisecond precision; comparable across the bench's processes. */
export const now = (): number => performance.timeOrigin + performance.now();

const PAD_CACHE = new Map<number, string>();

/** An event payload of about `bytes` bytes of JSON carrying the publish time and the event's number. */
export function payloadOf(w: Workload, seq: number, sentAt: number): Record<string, unknown> {
  // {"sent_at":1732791234567.123,"seq":12345,"pad":"…"} : ~45 bytes around the padding.
  const padLength = Math.max(0, w.payload_bytes - 45);
  let pad = PAD_CACHE.get(padLength);
  if (pad === undefined) PAD_CACHE.set(padLength, (pad = 'x'.repeat(padLength)));
  return { sent_at: sentAt, seq, pad };
}

/**
 * The body the ceiling and BullMQ runs POST: the same envelope hookd builds around the payload (without hookd's
 * event id, which they do not have: a stand-in is used).
 */
export function deliveryBody(w: Workload, seq: number, sentAt: number): string {
  const g = groups(w);
  return JSON.stringify(
    buildEnvelope({
      eventId: `evt_bench${String(seq).padStart(17, '0')}`,
      slug: slugOf(seq % g),
      createdAt: Math.floor(sentAt),
      traceId: [],
      companyId: 1,
      applicationId: null,
      payload: payloadOf(w, seq, sentAt),
    }),
  );
}

/** Every delivery of the workload in publish order (event by event), as [event seq, subscriber index]. */
export function* deliveriesOf(w: Workload): Generator<[number, number]> {
  for (let seq = 0; seq < w.events; seq++) for (const i of targetsOf(w, seq)) yield [seq, i];
}

export const subscriberPath = (i: number): string => `/s/${i}`;
