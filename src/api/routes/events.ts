// Publishing events (one or a batch) and reading one back with its deliveries.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Router } from '../../delivery/router.ts';
import { eventSlugProblem } from '../../domain/slug.ts';
import { HookdError, notFound } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import type { PublishRateLimiter } from '../limits.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, PositiveInt, TenantParams, tenantOf } from '../schemas.ts';
import { DeliveryItem } from './delivery-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['events'];
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;
const PAYLOAD_LIMIT = 1024 * 1024;

export const EventBody = Type.Object({
  event_slug: Type.String({ minLength: 1, maxLength: 200, description: 'category/name/type/vN, e.g. company/product/create/v1' }),
  payload: Type.Object({}, { additionalProperties: true, description: 'The event data (a JSON object)' }),
  application_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
  trace_id: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 20 })),
  idempotency_key: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()])),
});
type EventBody = Static<typeof EventBody>;

export const PublishResult = Type.Object({
  event_id: Type.String(),
  deliveries: Type.Integer({ description: 'Deliveries created (one per matching subscriber)' }),
  duplicate: Type.Boolean({ description: 'true when the idempotency key was seen within 24 h; nothing new is sent' }),
});

const CompanyParams = Type.Object({ ...TenantParams.properties, company_id: PositiveInt });

function checkSlugs(events: EventBody[], prefix: (index: number) => string): void {
  events.forEach((e, i) => {
    const problem = eventSlugProblem(e.event_slug);
    if (problem) throw new HookdError('VALIDATION_ERROR', `${prefix(i)}.event_slug "${e.event_slug}" ${problem}`);
  });
}

/** The 1 MiB payload limit also holds for each event of a batch (whose body may reach 16 MiB). */
function checkPayloadSizes(events: EventBody[]): void {
  events.forEach((e, i) => {
    if (Buffer.byteLength(JSON.stringify(e.payload)) > PAYLOAD_LIMIT) {
      throw new HookdError('PAYLOAD_TOO_LARGE', `body.events[${i}].payload is larger than the 1 MiB limit`);
    }
  });
}

interface Deps {
  store: Store;
  router: Router;
  metrics: Metrics;
  limiter: PublishRateLimiter;
}

export const eventRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { store, router, metrics, limiter }) => {
  app.post(`${P}/company/:company_id/event`, {
    schema: {
      tags,
      summary: 'Publish an event',
      description:
        'Answers 202 once the event and all its deliveries are durable. The same idempotency key (body field or ' +
        'Idempotency-Key header) within 24 h for the same tenant and company answers 200 with the first event id.',
      params: CompanyParams,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }),
      body: EventBody,
      response: { 200: PublishResult, 202: PublishResult, 413: Type.Ref('Error'), 429: Type.Ref('Error'), ...commonErrors },
    },
  }, async (req, reply) => {
    const header = req.headers['idempotency-key'];
    const bodyKey = req.body.idempotency_key ?? undefined;
    if (header !== undefined && bodyKey !== undefined && header !== bodyKey) {
      throw new HookdError('VALIDATION_ERROR', 'the Idempotency-Key header and body.idempotency_key differ');
    }
    checkSlugs([req.body], () => 'body');
    limiter.take(req.params.organization_id, 1);
    const [result] = await router.publish(tenantOf(req.params), req.params.company_id, [
      { ...req.body, idempotency_key: bodyKey ?? header ?? null },
    ]);
    if (!result!.duplicate) metrics.eventsPublished.inc({ organization_id: req.params.organization_id });
    return reply.status(result!.duplicate ? 200 : 202).send(result!);
  });

  app.post(`${P}/company/:company_id/event/batch`, {
    bodyLimit: BATCH_BODY_LIMIT,
    schema: {
      tags,
      summary: 'Publish up to 1000 events at once',
      description: 'All events and their deliveries become durable together, or none do. Body limit 16 MiB.',
      params: CompanyParams,
      body: Type.Object({ events: Type.Array(EventBody, { minItems: 1, maxItems: 1000 }) }),
      response: { 202: Type.Object({ items: Type.Array(PublishResult) }), 413: Type.Ref('Error'), 429: Type.Ref('Error'), ...commonErrors },
    },
  }, async (req, reply) => {
    checkSlugs(req.body.events, (i) => `body.events[${i}]`);
    checkPayloadSizes(req.body.events);
    limiter.take(req.params.organization_id, req.body.events.length);
    const published = router.publish(tenantOf(req.params), req.params.company_id, req.body.events);
    // The router has made its events from the parsed body by the time they wait for their commit: dropped here, the
    // parsed payloads die young instead of being copied by every scavenge until the 202.
    (req as { body: unknown }).body = undefined;
    const items = await published;
    const fresh = items.filter((r) => !r.duplicate).length;
    if (fresh > 0) metrics.eventsPublished.inc({ organization_id: req.params.organization_id }, fresh);
    return reply.status(202).send({ items });
  });

  app.get(`${P}/event/:event_id`, {
    schema: {
      tags,
      summary: 'Read an event with its deliveries',
      params: Type.Object({ ...TenantParams.properties, event_id: Type.String({ pattern: '^evt_[0-9A-Z]{26}$' }) }),
      response: {
        200: Type.Object({
          id: Type.String(),
          event_slug: Type.String(),
          company_id: Type.Integer(),
          application_id: Type.Union([Type.String(), Type.Null()]),
          created_on: Type.String(),
          body: Type.Unknown({ description: 'The envelope delivered to subscribers without a reducer' }),
          deliveries: Type.Array(DeliveryItem),
        }),
        ...commonErrors,
      },
    },
  }, async (req) => {
    const event = await store.getEvent(tenantOf(req.params), req.params.event_id);
    if (!event) throw notFound('event', req.params.event_id);
    return event;
  });
};

