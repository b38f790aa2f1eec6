// Which subscribers a publish gave something to send: what a store tells its process's dispatcher (Store.onWork).
import type { NewEvent, PublishResult } from '../domain/types.ts';

/** The subscribers of PENDING deliveries of `events`, but not of those answered as duplicates (nothing was written). */
export function subscribersToWake(events: NewEvent[], results: PublishResult[], into = new Set<number>()): Set<number> {
  events.forEach((event, i) => {
    if (results[i]?.duplicate) return;
    for (const d of event.deliveries) if (d.status === 'PENDING') into.add(d.subscriberId);
  });
  return into;
}
