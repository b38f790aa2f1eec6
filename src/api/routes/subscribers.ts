// Subscriber routes: create, list, read, replace, status, delete, secret.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Subscriber } from '../../domain/types.ts';
import { HookdError, notFound } from '../../errors.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, PageQuery, PositiveInt, StringEnum, SuccessBody, TenantParams, tenantOf } from '../schemas.ts';
import type { Rules } from '../../rules/index.ts';
import { checkSubscriptionRules, toSubscriberInput, withoutSecret } from './subscriber-input.ts';
import { SubscriberBody, SubscriberIdParams, SubscriberList, SubscriberView } from './subscriber-schemas.ts';
import type { SubscriberBody as SubscriberBodyType } from './subscriber-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['subscribers'];

interface Deps {
  store: Store;
  rules: Rules;
  checkWebhookUrl: (url: URL) => Promise<string | null>;
}

export const subscriberRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { store, rules, checkWebhookUrl }) => {
  /** Everything beyond the schema: URL guard, slugs, headers, filters and reducers (400/422 naming the part). */
  const validated = async (body: SubscriberBodyType, existing?: Subscriber) => {
    const input = toSubscriberInput(body, existing);
    const refused = await checkWebhookUrl(new URL(input.webhook_url));
    if (refused) throw new HookdError('INVALID_CONFIGURATION', `body.${refused}`);
    await checkSubscriptionRules(input, rules);
    return input;
  };

  app.post(`${P}/subscriber`, {
    schema: {
      tags,
      summary: 'Create a subscriber',
      description: 'Returns the subscriber with its signing secret (generated when auth_meta.secret is left out).',
      params: TenantParams,
      body: SubscriberBody,
      response: { 201: Type.Ref(SubscriberView), ...commonErrors },
    },
  }, async (req, reply) => {
    const input = await validated(req.body);
    const subscriber = await store.createSubscriber(tenantOf(req.params), input, Date.now());
    return reply.status(201).send(subscriber);
  });

  app.get(`${P}/subscriber`, {
    schema: {
      tags,
      summary: 'List subscribers',
      params: TenantParams,
      querystring: Type.Object({
        ...PageQuery,
        company_id: Type.Optional(PositiveInt),
        status: Type.Optional(StringEnum(['active', 'inactive', 'blocked'] as const)),
      }),
      response: { 200: SubscriberList, ...commonErrors },
    },
  }, async (req) => {
    const page = await store.listSubscribers(tenantOf(req.params), {
      pageNo: req.query.page_no ?? 1,
      pageSize: req.query.page_size ?? 20,
      companyId: req.query.company_id,
      status: req.query.status,
    });
    return { items: page.items.map(withoutSecret), page: page.page };
  });

  app.get(`${P}/subscriber/:id`, {
    schema: { tags, summary: 'Read a subscriber', params: SubscriberIdParams, response: { 200: Type.Ref(SubscriberView), ...commonErrors } },
  }, async (req) => {
    const subscriber = await store.getSubscriber(tenantOf(req.params), req.params.id);
    if (!subscriber) throw notFound('subscriber', req.params.id);
    return withoutSecret(subscriber);
  });

  app.put(`${P}/subscriber/:id`, {
    schema: {
      tags,
      summary: 'Replace a subscriber',
      description: 'Same body as create. The signing secret is kept unless auth_meta.secret is given.',
      params: SubscriberIdParams,
      body: SubscriberBody,
      response: { 200: Type.Ref(SubscriberView), ...commonErrors },
    },
  }, async (req) => {
    const tenant = tenantOf(req.params);
    const existing = await store.getSubscriber(tenant, req.params.id);
    if (!existing) throw notFound('subscriber', req.params.id);
    const input = await validated(req.body, existing);
    const updated = await store.replaceSubscriber(tenant, req.params.id, input, Date.now());
    if (!updated) throw notFound('subscriber', req.params.id);
    return withoutSecret(updated);
  });

  app.patch(`${P}/subscriber/:id`, {
    schema: {
      tags,
      summary: 'Activate or deactivate a subscriber',
      description: 'inactive parks new deliveries as RESYNC; active re-queues every RESYNC delivery (also after a block).',
      params: SubscriberIdParams,
      body: Type.Object({ status: StringEnum(['active', 'inactive'] as const) }),
      response: { 200: SuccessBody, ...commonErrors },
    },
  }, async (req) => {
    const ok = await store.setSubscriberStatus(tenantOf(req.params), req.params.id, req.body.status, Date.now());
    if (!ok) throw notFound('subscriber', req.params.id);
    return { success: true as const, message: `subscriber ${req.params.id} is ${req.body.status}` };
  });

  app.delete(`${P}/subscriber/:id`, {
    schema: {
      tags,
      summary: 'Delete a subscriber',
      description: 'Its queued deliveries are cancelled (DISABLED); its delivery history is kept.',
      params: SubscriberIdParams,
      response: { 200: SuccessBody, ...commonErrors },
    },
  }, async (req) => {
    const ok = await store.deleteSubscriber(tenantOf(req.params), req.params.id, Date.now());
    if (!ok) throw notFound('subscriber', req.params.id);
    return { success: true as const, message: `subscriber ${req.params.id} deleted` };
  });

  app.get(`${P}/subscriber/:id/secret`, {
    schema: {
      tags,
      summary: 'Read the signing secret',
      params: SubscriberIdParams,
      response: { 200: Type.Object({ secret: Type.String() }), ...commonErrors },
    },
  }, async (req) => {
    const subscriber = await store.getSubscriber(tenantOf(req.params), req.params.id);
    if (!subscriber) throw notFound('subscriber', req.params.id);
    return { secret: subscriber.auth_meta.secret };
  });
};
