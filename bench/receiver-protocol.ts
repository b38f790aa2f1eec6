// Messages between the bench and its receiver process (IPC).

export type ReceiverRequest = { id: number; op: 'reset' } | { id: number; op: 'count' } | { id: number; op: 'stats' };

export interface ReceiverStats {
  /** Requests counted (every well-formed POST /s/<i>, duplicates included). */
  received: number;
  /** Distinct (subscriber, event) pairs received. */
  unique: number;
  duplicates: number;
  /** Requests that were not a well-formed POST /s/<i> with payload.sent_at and payload.seq (answered 400). */
  rejected: number;
  /** Epoch ms of the first and last receipt. */
  first_at: number;
  last_at: number;
  /** Publish→receipt latency over all receipts, ms. */
  p50_ms: number;
  p99_ms: number;
  /** Subscriber paths that received anything, and the least and most any of them received. */
  paths: number;
  min_per_path: number;
  max_per_path: number;
}

export type ReceiverReply =
  | { id: 0; port: number }
  | { id: number; ok: true }
  | { id: number; unique: number; received: number }
  | { id: number; stats: ReceiverStats };
