// Publish-time routing: which subscribers an event reaches (slug, company, criteria, filter), and the exact
// body each of them will receive (the event's envelope, or the envelope around a reducer's result).
import { associationAdmits } from '../domain/criteria.ts';
import { serializeEnvelope, type EnvelopeInput } from '../domain/envelope.ts';
import { newEventId } from '../domain/ids.ts';
import { slugMatches } from '../domain/slug.ts';
import type { NewDelivery, NewEvent, PublishResult, Subscriber, Tenant } from '../domain/types.ts';
import { applyReducer, compileFilter, compileReducer, RuleError, type CompiledFilter, type CompiledReducer, type Rules } from '../rules/index.ts';
import type { Store } from '../store/index.ts';

export interface PublishInput {
  event_slug: string;
  payload: Record<string, unknown>;
  application_id?: string | null;
  trace_id?: string[];
  idempotency_key?: string | null;
}

interface CompiledSubscription {
  slug: string;
  filter: CompiledFilter | null;
  reducer: CompiledReducer | null;
  /** Set when the saved configuration no longer compiles: every matching event is a FILTER_ERROR. */
  problem: string | null;
}

interface Route {
  subscriber: Subscriber;
  /** Most specific first (fewest `*`), so an exact slug's filter wins over a wildcard's. */
  subscriptions: CompiledSubscription[];
}

const wildcards = (slug: string) => slug.split('/').filter((s) => s === '*').length;

function compileRoute(subscriber: Subscriber): Route {
  const subscriptions = subscriber.events.map((e, i): CompiledSubscription => {
    try {
      return {
        slug: e.slug,
        filter: e.filters == null ? null : compileFilter(e.filters, `events[${i}].filters`),
        reducer: e.reducer == null ? null : compileReducer(e.reducer, `events[${i}].reducer`),
        problem: null,
      };
    } catch (err) {
      return { slug: e.slug, filter: null, reducer: null, problem: err instanceof RuleError ? err.message : String(err) };
    }
  });
  subscriptions.sort((a, b) => wildcards(a.slug) - wildcards(b.slug));
  return { subscriber, subscriptions };
}

interface Match {
  route: Route;
  subscription: CompiledSubscription;
}

/** The most (slug, application) pairs a route set remembers the matches of; past it they are forgotten, all at once. */
export const MATCHES_KEPT = 1024;

/**
 * A (tenant, company)'s routes, and the matches of each (slug, application) seen since they were read. Remembered
 * across publishes: a single-event publish matched its slug against every subscription of every route again, 60–100 µs
 * per event with a hundred subscribers of two patterns each (~3 % of the main thread in the bench's latency phase).
 */
interface RouteSet {
  routes: Route[];
  matches: Map<string, Match[]>;
}

export class Router {
  // Routes per (tenant, company), dropped whenever any subscriber or its filters change.
  private readonly cache = new Map<string, RouteSet>();
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly rules: Rules,
  ) {
    store.onSubscribersChanged(() => this.invalidate());
  }

  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async routesOf(tenant: Tenant, companyId: number): Promise<RouteSet> {
    const key = `${tenant.organizationId}\u0000${tenant.extensionId}\u0000${companyId}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const set: RouteSet = { routes: (await this.store.routableSubscribers(tenant, companyId)).map(compileRoute), matches: new Map() };
    if (generation === this.generation) this.cache.set(key, set);
    return set;
  }

  /** How many (slug, application) pairs the route sets remember matches for (for tests). */
  get rememberedMatches(): number {
    let n = 0;
    for (const set of this.cache.values()) n += set.matches.size;
    return n;
  }

  async publish(tenant: Tenant, companyId: number, inputs: PublishInput[], now: number = Date.now()): Promise<PublishResult[]> {
    const { routes, matches: matchesOf } = await this.routesOf(tenant, companyId);
    const prepared = inputs.map((input) => {
      const applicationId = input.application_id ?? null;
      const key = `${input.event_slug}\u0000${applicationId ?? ''}`;
      let matching = matchesOf.get(key);
      if (!matching) {
        matching = [];
        for (const route of routes) {
          if (!associationAdmits(route.subscriber.association, companyId, applicationId)) continue;
          const subscription = route.subscriptions.find((s) => slugMatches(s.slug, input.event_slug));
          if (subscription) matching.push({ route, subscription });
        }
        // Slugs come from publishers: a bound, not an eviction policy (a publisher's slugs are usually a few dozen).
        if (matchesOf.size >= MATCHES_KEPT) matchesOf.clear();
        matchesOf.set(key, matching);
      }
      // Each event its own Match objects: filter outcomes are looked up by them.
      const matches = matching.map((m): Match => ({ route: m.route, subscription: m.subscription }));
      const envelope: EnvelopeInput = {
        eventId: newEventId(now),
        slug: input.event_slug,
        createdAt: now,
        traceId: input.trace_id ?? [],
        companyId,
        applicationId,
        payload: input.payload,
      };
      return { input, envelope, matches };
    });

    // Every filter of this publish goes to the sandbox in one batch.
    const filtered = prepared.flatMap((p) =>
      p.matches.filter((m) => m.subscription.filter !== null).map((m) => ({ m, filter: m.subscription.filter!, payload: p.input.payload })),
    );
    const outcomes = filtered.length > 0 ? await this.rules.evaluate(filtered) : [];
    const outcomeOf = new Map(filtered.map((f, i) => [f.m, outcomes[i]!]));

    const events: NewEvent[] = prepared.map(({ input, envelope, matches }) => {
      const deliveries: NewDelivery[] = [];
      for (const match of matches) {
        const delivery = this.deliveryFor(match, envelope, outcomeOf.get(match));
        if (!delivery) continue;
        deliveries.push(delivery);
      }
      return {
        id: envelope.eventId,
        companyId,
        applicationId: envelope.applicationId,
        slug: input.event_slug,
        idempotencyKey: input.idempotency_key ?? null,
        body: serializeEnvelope(envelope),
        createdAt: now,
        deliveries,
      };
    });
    return this.store.publish(tenant, events, now);
  }

  /** The delivery one match produces, or null when its filter says no. */
  private deliveryFor(match: Match, envelope: EnvelopeInput, outcome: Awaited<ReturnType<Rules['evaluate']>>[number] | undefined): NewDelivery | null {
    const { subscriber } = match.route;
    const { subscription } = match;
    if (subscription.problem) return { subscriberId: subscriber.id, status: 'FILTER_ERROR', error: subscription.problem };
    if (outcome && !outcome.ok) return { subscriberId: subscriber.id, status: 'FILTER_ERROR', error: `filter failed: ${outcome.error}` };
    if (outcome && !outcome.pass) return null;
    const status = subscriber.status === 'active' ? 'PENDING' : 'RESYNC';
    if (!subscription.reducer) return { subscriberId: subscriber.id, status };
    try {
      const payload = applyReducer(subscription.reducer, envelope.payload);
      return { subscriberId: subscriber.id, status, body: serializeEnvelope({ ...envelope, payload }) };
    } catch (err) {
      return { subscriberId: subscriber.id, status: 'FILTER_ERROR', error: `reducer failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
}
