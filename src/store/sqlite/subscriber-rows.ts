// A subscriber's deliveries sit in two partial indexes (migration 008): queued ones (PENDING, FAILED) in deliveries_due,
// the others in deliveries_by_subscriber_finished. SQLite reads a partial index only for a query whose WHERE carries
// the index's own condition, so a query by subscriber runs once per half, each with its condition; and INDEXED BY,
// since without statistics the planner preferred the tenant's index for its order (every delivery of the tenant read to
// find one subscriber's).

export interface SubscriberHalf {
  /** Selects the half's rows; each delivery is in exactly one half. */
  condition: string;
  /** The partial index that holds them, by subscriber_id first. */
  index: string;
}

export const SUBSCRIBER_HALVES: readonly SubscriberHalf[] = [
  { condition: "status IN ('PENDING', 'FAILED')", index: 'deliveries_due' },
  { condition: "status NOT IN ('PENDING', 'FAILED')", index: 'deliveries_by_subscriber_finished' },
];

/** `SELECT columns` of one subscriber's deliveries matching `clause`, from one half. */
export const halfSelect = (columns: string, clause: string, half: SubscriberHalf): string =>
  `SELECT ${columns} FROM deliveries INDEXED BY ${half.index} WHERE ${clause} AND ${half.condition}`;

/**
 * A FROM source: the deliveries matching `clause` (its parameters are `args`), read through both halves when the clause
 * names a subscriber, and as one plain read otherwise. Returns the source and the parameters it binds.
 */
export function deliveriesWhere<T>(clause: string, args: T[], bySubscriber: boolean): { source: string; args: T[] } {
  if (!bySubscriber) return { source: `(SELECT * FROM deliveries WHERE ${clause})`, args };
  return {
    source: `(${SUBSCRIBER_HALVES.map((half) => halfSelect('*', clause, half)).join(' UNION ALL ')})`,
    args: SUBSCRIBER_HALVES.flatMap(() => args),
  };
}
