// Keeping the long-lived maps and sets of work in flight in V8's young generation.
//
// A Map or Set whose keys come and go all the time (a lease per claimed delivery, a callback per attempt in flight) is
// rehashed into a new table every so many inserts after deletes, and V8 allocates that table in the generation of the
// table it replaces. Once such a collection has outlived two scavenges, each of its rehashes therefore allocates
// straight into the old generation, whose growth is what sets off mark-compacts. On the bench those rehashes were
// about half of what the main thread's old generation grew by; each mark-compact costs ~0.1 s of CPU on two cores,
// and in the latency phase (one every ~0.9 s at 7 000 deliveries/s) each delayed the deliveries around it by 20-40 ms.
// An owner that replaces such a collection by a copy of itself every RENEW_EVERY_MS keeps it younger than two
// scavenges (~0.2 s apart under load), so its old tables are young garbage, collected for the cost of its live
// entries. Copying a few thousand entries takes well under 0.1 ms.

export const RENEW_EVERY_MS = 50;

/**
 * Tells its owner when to copy its churning collections: at most once per `everyMs`. The owner asks where no loop
 * over them is running (a loop would go on over the old copy).
 */
export class Renewal {
  private last = -Infinity;

  constructor(
    private readonly everyMs = RENEW_EVERY_MS,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  due(): boolean {
    const now = this.clock();
    if (now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }
}
