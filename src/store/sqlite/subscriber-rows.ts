// A subscriber's deliveries sit in two partial indexes (migration 008): queued ones (PENDING, FAILED) in deliveries_due,
// the others in deliveries_by_subscriber_finished. SQLite reads a partial index only for a query whose WHERE carries
// the index's own condition, so a query by subscriber runs once per half, each with its condition; and INDEXED BY,
// since without statistics the planner preferred the tenant's index for its order (every delivery of the tenant read to
// find one subscriber's).
import type { DeliveryStatus } from '../../domain/types.ts';

const QUEUED: ReadonlySet<DeliveryStatus> = new Set(['PENDING', 'FAILED']);

export interface SubscriberHalf {
  /** Selects the half's rows; each delivery is in exactly one half. */
  condition: string;
  /** The partial index that holds them, by subscriber_id first. */
  index: string;
  /** Whether a delivery in `status` is in this half. */
  holds(status: DeliveryStatus): boolean;
}

export const SUBSCRIBER_HALVES: readonly SubscriberHalf[] = [
  { condition: "status IN ('PENDING', 'FAILED')", index: 'deliveries_due', holds: (status) => QUEUED.has(status) },
  { condition: "status NOT IN ('PENDING', 'FAILED')", index: 'deliveries_by_subscriber_finished', holds: (status) => !QUEUED.has(status) },
];

/**
 * `SELECT columns` of one subscriber's deliveries matching `clause`, one SELECT per half joined by UNION ALL: its
 * parameters are the clause's once per half (bothHalvesArgs).
 */
export const bothHalves = (columns: string, clause: string): string =>
  SUBSCRIBER_HALVES.map((half) => `SELECT ${columns} FROM deliveries INDEXED BY ${half.index} WHERE ${clause} AND ${half.condition}`).join(
    ' UNION ALL ',
  );

export const bothHalvesArgs = <T>(args: T[]): T[] => SUBSCRIBER_HALVES.flatMap(() => args);

/** A FROM source: one subscriber's deliveries matching `clause` (its parameters are `args`), read through both halves. */
export const bySubscriber = <T>(clause: string, args: T[]): { source: string; args: T[] } => ({
  source: `(${bothHalves('*', clause)})`,
  args: bothHalvesArgs(args),
});
