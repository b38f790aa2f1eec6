// Service endpoints without tenant or key: liveness, readiness, Prometheus metrics.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Metrics } from '../../metrics.ts';
import type { Store } from '../../store/index.ts';

const tags = ['service'];

export const serviceRoutes: FastifyPluginAsyncTypebox<{ store: Store; metrics: Metrics }> = async (app, { store, metrics }) => {
  app.get('/healthz', {
    schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags,
      summary: 'Readiness: 200 when the store answers, else 503',
      response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ status: Type.String(), message: Type.String() }) },
    },
  }, async (_req, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'unavailable', message: 'the store does not answer' });
    }
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
