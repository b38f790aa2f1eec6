// The events the store benchmarks (publish-cpu.ts, store-cpu.ts) publish straight into the SQLite store: one company
// slug, 1 KiB bodies, each event's deliveries spread round-robin over the subscribers.
import type { NewEvent } from '../src/domain/types.ts';

/** Makes the next event each call: a new id, five companies in turn, `fanout` PENDING deliveries. */
export function storeBenchEvents(subscribers: number, fanout: number): () => NewEvent {
  const body = JSON.stringify({ payload: 'x'.repeat(1000) });
  let n = 0;
  return () => {
    const seq = n++;
    return {
      id: `evt_${String(seq).padStart(26, '0')}`,
      companyId: 1 + (seq % 5),
      applicationId: null,
      slug: 'company/product/update/v1',
      idempotencyKey: null,
      body,
      createdAt: Date.now(),
      deliveries: Array.from({ length: fanout }, (_, i) => ({ subscriberId: 1 + ((seq * fanout + i) % subscribers), status: 'PENDING' as const })),
    };
  };
}
