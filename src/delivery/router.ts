// Publish-time routing: which subscribers an event reaches, and the envelope they will all receive.
import { associationAdmits } from '../domain/criteria.ts';
import { serializeEnvelope } from '../domain/envelope.ts';
import { newEventId } from '../domain/ids.ts';
import { slugMatches } from '../domain/slug.ts';
import type { NewEvent, PublishResult, Subscriber, Tenant } from '../domain/types.ts';
import type { Store } from '../store/index.ts';

export interface PublishInput {
  event_slug: string;
  payload: Record<string, unknown>;
  application_id?: string | null;
  trace_id?: string[];
  idempotency_key?: string | null;
}

export function subscriberWants(subscriber: Subscriber, slug: string, companyId: number, applicationId: string | null): boolean {
  return (
    associationAdmits(subscriber.association, companyId, applicationId) &&
    subscriber.events.some((e) => slugMatches(e.slug, slug))
  );
}

export class Router {
  // Subscribers per (tenant, company), dropped whenever any subscriber changes.
  private readonly cache = new Map<string, Subscriber[]>();
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly onPublished: (subscriberIds: Set<number>) => void = () => {},
  ) {
    store.onSubscribersChanged(() => this.invalidate());
  }

  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async subscribersOf(tenant: Tenant, companyId: number): Promise<Subscriber[]> {
    const key = `${tenant.organizationId}\u0000${tenant.extensionId}\u0000${companyId}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const subscribers = await this.store.routableSubscribers(tenant, companyId);
    if (generation === this.generation) this.cache.set(key, subscribers);
    return subscribers;
  }

  async publish(tenant: Tenant, companyId: number, inputs: PublishInput[], now: number = Date.now()): Promise<PublishResult[]> {
    const subscribers = await this.subscribersOf(tenant, companyId);
    const woken = new Set<number>();
    const events: NewEvent[] = inputs.map((input) => {
      const id = newEventId(now);
      const applicationId = input.application_id ?? null;
      const matched = subscribers.filter((s) => subscriberWants(s, input.event_slug, companyId, applicationId));
      const deliveries = matched.map((s) => {
        const status = s.status === 'active' ? ('PENDING' as const) : ('RESYNC' as const);
        if (status === 'PENDING') woken.add(s.id);
        return { subscriberId: s.id, status };
      });
      return {
        id,
        companyId,
        applicationId,
        slug: input.event_slug,
        idempotencyKey: input.idempotency_key ?? null,
        body: serializeEnvelope({
          eventId: id,
          slug: input.event_slug,
          createdAt: now,
          traceId: input.trace_id ?? [],
          companyId,
          applicationId,
          payload: input.payload,
        }),
        createdAt: now,
        deliveries,
      };
    });
    const results = await this.store.publish(tenant, events, now);
    if (woken.size > 0) this.onPublished(woken);
    return results;
  }
}
