// Delivery routes: list, detail with the attempt log, manual retry.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HookdError, notFound } from '../../errors.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, DateTime, PageInfo, PageQuery, PositiveInt, StringEnum, TenantParams, tenantOf } from '../schemas.ts';
import { toCsv } from '../csv.ts';
import { DeliveryDetailSchema, DeliveryItem, DeliveryStatusSchema } from './delivery-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['deliveries'];
const DeliveryParams = Type.Object({ ...TenantParams.properties, id: PositiveInt });
const DELIVERY_CSV_COLUMNS = Object.keys(DeliveryItem.properties) as (keyof typeof DeliveryItem.properties)[];

export const deliveryRoutes: FastifyPluginAsyncTypebox<{ store: Store; wake: (subscriberIds: number[]) => void; rescan: () => void }> = async (
  app,
  { store, wake, rescan },
) => {
  app.post(`${P}/retry`, {
    schema: {
      tags,
      summary: 'Queue many deliveries again',
      description:
        'Re-queues, in one statement, every delivery created between start_date and end_date (inclusive) whose status ' +
        'is in `status` (default FAILED and DISABLED), optionally only of some subscribers and event slugs. Deliveries of ' +
        'an inactive or blocked subscriber are parked as RESYNC; those of deleted subscribers and FILTER_ERROR records ' +
        'are left alone. Answers 202 with how many were queued or parked.',
      params: TenantParams,
      body: Type.Object({
        start_date: DateTime,
        end_date: DateTime,
        subscriber_ids: Type.Optional(Type.Array(PositiveInt, { maxItems: 1000 })),
        event_slugs: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 })),
        status: Type.Optional(Type.Array(DeliveryStatusSchema, { minItems: 1, maxItems: 6, default: ['FAILED', 'DISABLED'] })),
      }),
      response: { 202: Type.Object({ queued: Type.Integer() }), ...commonErrors },
    },
  }, async (req, reply) => {
    const startDate = Date.parse(req.body.start_date);
    const endDate = Date.parse(req.body.end_date);
    if (endDate < startDate) throw new HookdError('VALIDATION_ERROR', 'body.end_date must not be before start_date');
    const { queued } = await store.requeueDeliveries(
      tenantOf(req.params),
      {
        startDate,
        endDate,
        subscriberIds: req.body.subscriber_ids,
        eventSlugs: req.body.event_slugs,
        statuses: req.body.status ?? ['FAILED', 'DISABLED'],
      },
      Date.now(),
    );
    if (queued > 0) rescan();
    return reply.status(202).send({ queued });
  });

  app.get(`${P}/delivery`, {
    schema: {
      tags,
      summary: 'List deliveries, newest first',
      description:
        'start_date and end_date bound created_on (inclusive). format=csv answers the same page of rows as a CSV download ' +
        '(RFC 4180, text/csv; charset=utf-8): a header row with the item fields in order, then one line per delivery; ' +
        'null is an empty field.',
      params: TenantParams,
      querystring: Type.Object({
        ...PageQuery,
        format: Type.Optional(StringEnum(['json', 'csv'] as const, { default: 'json', description: 'csv: the same rows as CSV' })),
        company_id: Type.Optional(PositiveInt),
        subscriber_id: Type.Optional(PositiveInt),
        status: Type.Optional(DeliveryStatusSchema),
        event_slug: Type.Optional(Type.String({ maxLength: 200 })),
        start_date: Type.Optional(DateTime),
        end_date: Type.Optional(DateTime),
      }),
      response: {
        200: {
          content: {
            'application/json': { schema: Type.Object({ items: Type.Array(DeliveryItem), page: PageInfo }) },
            'text/csv': { schema: Type.String({ description: 'With format=csv' }) },
          },
        },
        ...commonErrors,
      },
    },
  }, async (req, reply) => {
    const q = req.query;
    const startDate = q.start_date === undefined ? undefined : Date.parse(q.start_date);
    const endDate = q.end_date === undefined ? undefined : Date.parse(q.end_date);
    if (startDate !== undefined && endDate !== undefined && endDate < startDate) {
      throw new HookdError('VALIDATION_ERROR', 'querystring.end_date must not be before start_date');
    }
    const page = await store.listDeliveries(tenantOf(req.params), {
      pageNo: q.page_no ?? 1,
      pageSize: q.page_size ?? 20,
      companyId: q.company_id,
      subscriberId: q.subscriber_id,
      status: q.status,
      eventSlug: q.event_slug,
      startDate,
      endDate,
    });
    if (q.format !== 'csv') return page;
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="deliveries.csv"')
      .send(toCsv(DELIVERY_CSV_COLUMNS, page.items));
  });

  app.get(`${P}/delivery/:id`, {
    schema: { tags, summary: 'Read a delivery with its attempt log', params: DeliveryParams, response: { 200: DeliveryDetailSchema, ...commonErrors } },
  }, async (req) => {
    const delivery = await store.getDelivery(tenantOf(req.params), req.params.id);
    if (!delivery) throw notFound('delivery', req.params.id);
    return delivery;
  });

  app.post(`${P}/delivery/:id/retry`, {
    schema: {
      tags,
      summary: 'Queue a delivery again now',
      description:
        'The retry policy starts afresh. A delivery of an inactive or blocked subscriber is parked as RESYNC. ' +
        '409 for a delivery of a deleted subscriber or a FILTER_ERROR record.',
      params: DeliveryParams,
      response: { 202: Type.Object({ success: Type.Literal(true), message: Type.String(), status: DeliveryStatusSchema }), 409: Type.Ref('Error'), ...commonErrors },
    },
  }, async (req, reply) => {
    const tenant = tenantOf(req.params);
    const outcome = await store.retryDelivery(tenant, req.params.id, Date.now());
    if (outcome === 'not-found') throw notFound('delivery', req.params.id);
    if (outcome === 'subscriber-deleted') throw new HookdError('CONFLICT', `delivery ${req.params.id} belongs to a deleted subscriber`);
    if (outcome === 'filtered') {
      throw new HookdError('CONFLICT', `delivery ${req.params.id} is a FILTER_ERROR record: its filter failed at publish, so there is nothing to send; fix the filter and publish again`);
    }
    if (outcome === 'queued') {
      const delivery = await store.getDelivery(tenant, req.params.id);
      if (delivery) wake([delivery.subscriber_id]);
    }
    return reply.status(202).send({
      success: true as const,
      message: outcome === 'queued' ? `delivery ${req.params.id} queued` : `delivery ${req.params.id} parked until its subscriber is active`,
      status: outcome === 'queued' ? ('PENDING' as const) : ('RESYNC' as const),
    });
  });
};
