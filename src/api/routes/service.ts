// Service endpoints without tenant or key: liveness, readiness, Prometheus metrics.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Metrics } from '../../metrics.ts';
import type { Store } from '../../store/index.ts';

const tags = ['service'];

/** A store that has not answered a `SELECT 1` by then counts as down (a lost network hangs rather than refuses). */
const READY_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {}); // a ping that fails after the time-out is already answered
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export const serviceRoutes: FastifyPluginAsyncTypebox<{ store: Store; metrics: Metrics }> = async (app, { store, metrics }) => {
  app.get('/healthz', {
    schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags,
      summary: `Readiness: 200 when the store answers within ${READY_TIMEOUT_MS} ms, else 503`,
      response: {
        200: Type.Object({ status: Type.Literal('ready') }),
        503: Type.Object({ success: Type.Literal(false), status: Type.Literal('unavailable'), code: Type.Literal('STORE_UNAVAILABLE'), message: Type.String() }),
      },
    },
  }, async (req, reply) => {
    try {
      await withTimeout(store.ping(), READY_TIMEOUT_MS);
      return { status: 'ready' as const };
    } catch (err) {
      req.log.debug({ err }, 'readiness: the store does not answer');
      reply.header('retry-after', '5');
      return reply.status(503).send({
        success: false as const,
        status: 'unavailable' as const,
        code: 'STORE_UNAVAILABLE' as const,
        message: 'not ready: the store (database) does not answer',
      });
    }
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
