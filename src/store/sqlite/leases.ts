// Delivery leases of the SQLite adapter, kept in memory. One process dispatches from a SQLite file (the dispatcher
// lock), so a lease only has to survive as long as that process: writing each one to the file cost a transaction
// per claim round that the profile showed as the largest single cost of a delivery. A process that dies takes its
// leases with it, and its deliveries are due again at once for the next one (at-least-once, as with expiry).

interface Lease {
  owner: string;
  until: number;
  subscriberId: number;
  /** The row's next_attempt_at when it was claimed: with the id, its place in the subscriber's queue. */
  at: number;
  /** The delivery's company, which its attempt rows repeat: read at claim, so recording needs no read of the row. */
  companyId: number;
}

/** A place in a subscriber's queue, which is ordered by (next_attempt_at, id). */
export interface QueuePlace {
  at: number;
  id: number;
}

/** A subscriber's running leases: which, the earliest end, and the last of them in queue order. */
export interface ActiveLeases {
  ids: number[];
  earliestEnd: number | null;
  last: QueuePlace | null;
}

export class Leases {
  private byId = new Map<number, Lease>();
  private bySubscriber = new Map<number, Set<number>>();

  /**
   * Replaces both maps, and each subscriber's set, by copies: a lease is taken and dropped per delivery, and tables
   * rehashed in an old collection are allocated in the old generation (renewal.ts). Not while a loop over them runs.
   */
  renew(): void {
    this.byId = new Map(this.byId);
    const bySubscriber = new Map<number, Set<number>>();
    for (const [subscriberId, ids] of this.bySubscriber) bySubscriber.set(subscriberId, new Set(ids));
    this.bySubscriber = bySubscriber;
  }

  take(id: number, subscriberId: number, at: number, owner: string, until: number, companyId: number): void {
    this.drop(id);
    this.byId.set(id, { owner, until, subscriberId, at, companyId });
    let ids = this.bySubscriber.get(subscriberId);
    if (!ids) this.bySubscriber.set(subscriberId, (ids = new Set()));
    ids.add(id);
  }

  /**
   * The company of the delivery `owner` holds under `id` (even past the lease's end, as long as nobody took it since),
   * or undefined when it holds no lease on it.
   */
  heldCompany(id: number, owner: string): number | undefined {
    const lease = this.byId.get(id);
    return lease?.owner === owner ? lease.companyId : undefined;
  }

  drop(id: number): void {
    const lease = this.byId.get(id);
    if (!lease) return;
    this.byId.delete(id);
    const ids = this.bySubscriber.get(lease.subscriberId);
    ids?.delete(id);
    if (ids?.size === 0) this.bySubscriber.delete(lease.subscriberId);
  }

  dropAll(ids: Iterable<number>): void {
    for (const id of ids) this.drop(id);
  }

  dropSubscriber(subscriberId: number): void {
    this.dropAll(this.idsOf(subscriberId));
  }

  /** Every lease of one subscriber, ended or not: deliveries an attempt may still be working on. */
  idsOf(subscriberId: number): number[] {
    return [...(this.bySubscriber.get(subscriberId) ?? [])];
  }

  /** Leases of one subscriber still running at `now`. */
  activeOf(subscriberId: number, now: number): ActiveLeases {
    const ids: number[] = [];
    let earliestEnd: number | null = null;
    // The last place as two numbers, not an object per new maximum: this runs per subscriber per claim.
    let lastAt = -Infinity;
    let lastId = -Infinity;
    for (const id of this.bySubscriber.get(subscriberId) ?? []) {
      const { until, at } = this.byId.get(id)!;
      if (until <= now) continue;
      ids.push(id);
      if (earliestEnd === null || until < earliestEnd) earliestEnd = until;
      if (at > lastAt || (at === lastAt && id > lastId)) {
        lastAt = at;
        lastId = id;
      }
    }
    return { ids, earliestEnd, last: ids.length > 0 ? { at: lastAt, id: lastId } : null };
  }

  /** The ids `owner` holds leases on. */
  ownedBy(owner: string): number[] {
    return [...this.byId].filter(([, lease]) => lease.owner === owner).map(([id]) => id);
  }
}
