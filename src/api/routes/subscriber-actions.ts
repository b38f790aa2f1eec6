// Subscriber actions beyond CRUD: ping now, rotate the signing secret.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pingSubscriber } from '../../delivery/ping.ts';
import type { WebhookSender } from '../../delivery/sender.ts';
import { newSecret } from '../../domain/ids.ts';
import { notFound } from '../../errors.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, tenantOf } from '../schemas.ts';
import { SubscriberIdParams } from './subscriber-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['subscribers'];
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export const subscriberActionRoutes: FastifyPluginAsyncTypebox<{ store: Store; sender: WebhookSender }> = async (app, { store, sender }) => {
  app.post(`${P}/subscriber/:id/ping`, {
    schema: {
      tags,
      summary: 'Send a ping event now',
      description:
        'Sends one signed event (slug system/webhook/ping/v1) to the webhook URL synchronously and answers with the ' +
        'outcome: status SUCCESS for a 2xx, code = HTTP status (0 for a network error or time-out), response_time in ms. ' +
        'Nothing is queued or retried.',
      params: SubscriberIdParams,
      response: {
        200: Type.Object({
          status: Type.String({ enum: ['SUCCESS', 'FAILED'] }),
          code: Type.Integer(),
          message: Type.String(),
          response_time: Type.Number(),
        }),
        ...commonErrors,
      },
    },
  }, async (req) => {
    const visible = await store.getSubscriber(tenantOf(req.params), req.params.id);
    const subscriber = visible && (await store.getSubscriberForDispatch(req.params.id));
    if (!subscriber) throw notFound('subscriber', req.params.id);
    return pingSubscriber(subscriber, sender);
  });

  app.post(`${P}/subscriber/:id/secret/rotate`, {
    schema: {
      tags,
      summary: 'Rotate the signing secret',
      description:
        'Generates a new secret and returns it. For 24 hours every delivery carries webhook-signature entries under ' +
        'both the new and the old secret (space-separated v1,… values), so receivers can switch without losing events. ' +
        'x-fp-signature uses the new secret at once.',
      params: SubscriberIdParams,
      response: { 200: Type.Object({ secret: Type.String() }), ...commonErrors },
    },
  }, async (req) => {
    const secret = newSecret();
    const now = Date.now();
    const ok = await store.rotateSecret(tenantOf(req.params), req.params.id, secret, now + ROTATION_OVERLAP_MS, now);
    if (!ok) throw notFound('subscriber', req.params.id);
    return { secret };
  });
};
