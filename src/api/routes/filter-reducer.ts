// The seed's filter_reducer operation: save a filter and/or reducer for one (subscriber, event slug).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HookdError } from '../../errors.ts';
import { RuleError, type Rules } from '../../rules/index.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, PositiveInt, TenantParams, tenantOf } from '../schemas.ts';
import { FilterSchema, ReducerSchema } from './rule-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';

export const filterReducerRoutes: FastifyPluginAsyncTypebox<{ store: Store; rules: Rules }> = async (app, { store, rules }) => {
  app.put(`${P}/company/:company_id/subscriber/:subscriber_id/filter_reducer`, {
    schema: {
      tags: ['filters and reducers'],
      summary: 'Save filter or reducer configuration.',
      description:
        'Save filter and/or reducer configuration for a subscriber event mapping. A configuration left out is ' +
        'unchanged; null removes it. 404 for an unknown subscriber, one of another company, or a slug the subscriber ' +
        'does not list (exactly as in its events); 422 for an invalid filter or reducer (nothing is saved). The saved ' +
        'configuration applies to every event published after the 200.',
      params: Type.Object({ ...TenantParams.properties, company_id: PositiveInt, subscriber_id: PositiveInt }),
      body: Type.Object({
        event_slug: Type.String({ minLength: 1, maxLength: 200, description: 'Event slug for which filter/reducer is being configured.' }),
        filter_configuration: Type.Optional(Type.Union([FilterSchema, Type.Null()])),
        reducer_configuration: Type.Optional(Type.Union([ReducerSchema, Type.Null()])),
      }),
      response: {
        200: Type.Object({
          success: Type.Boolean(),
          message: Type.String(),
          data: Type.Object({
            subscriber_id: Type.Integer(),
            event_slug: Type.String(),
            filters: Type.Union([Type.Unknown(), Type.Null()]),
            reducer: Type.Union([Type.Unknown(), Type.Null()]),
          }),
        }),
        422: Type.Ref('Error'),
        ...commonErrors,
      },
    },
  }, async (req) => {
    const tenant = tenantOf(req.params);
    const { company_id, subscriber_id } = req.params;
    const { event_slug, filter_configuration, reducer_configuration } = req.body;
    const subscriber = await store.getSubscriber(tenant, subscriber_id);
    if (!subscriber || subscriber.association.company_id !== company_id) {
      throw new HookdError('NOT_FOUND', `subscriber ${subscriber_id} was not found in company ${company_id}`);
    }
    if (!subscriber.events.some((e) => e.slug === event_slug)) {
      throw new HookdError('NOT_FOUND', `subscriber ${subscriber_id} is not subscribed to ${event_slug}`);
    }
    try {
      if (filter_configuration != null) await rules.validateFilter(filter_configuration, 'filter_configuration');
      if (reducer_configuration != null) rules.validateReducer(reducer_configuration, 'reducer_configuration');
    } catch (err) {
      if (err instanceof RuleError) throw new HookdError('INVALID_CONFIGURATION', err.message);
      throw err;
    }
    const saved = await store.saveSubscriptionRules(tenant, subscriber_id, event_slug, { filters: filter_configuration, reducer: reducer_configuration }, Date.now());
    if (!saved) throw new HookdError('NOT_FOUND', `subscriber ${subscriber_id} is not subscribed to ${event_slug}`);
    return {
      success: true,
      message: `filter and reducer saved for subscriber ${subscriber_id} and ${event_slug}`,
      data: { subscriber_id, event_slug, filters: saved.filters, reducer: saved.reducer },
    };
  });
};
