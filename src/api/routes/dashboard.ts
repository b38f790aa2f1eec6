// The dashboard: the Vite build in web/dist served at /. Built files are served as they are (hashed assets
// cached for a year); any other GET path outside the API answers index.html, so /deliveries and the other views
// survive a reload. API and service routes are declared explicitly and always win over this catch-all;
// unknown paths under them keep their JSON 404.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export const DASHBOARD_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** Paths that belong to the API or the service endpoints: never answered with the dashboard. */
const RESERVED = /^\/(service|docs|openapi\.json|healthz|readyz|metrics)(\/|$)/;
/** A file of the build (assets, or any name with an extension) rather than a view of the dashboard. */
const FILE = /^\/assets\/|\.[A-Za-z0-9]+$/;

const HTML_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
};

export const dashboardRoutes: FastifyPluginAsync<{ root?: string }> = async (app, opts) => {
  const root = opts.root ?? DASHBOARD_ROOT;
  const built = existsSync(root);
  if (built) await app.register(fastifyStatic, { root, serve: false, index: false });

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = `/${(request.params as { '*': string })['*']}`;
    if (RESERVED.test(path)) return reply.callNotFound();
    if (!built || !existsSync(`${root}/index.html`)) {
      return reply.status(404).type('application/json').send({
        success: false,
        code: 'NOT_FOUND',
        message: 'the dashboard is not built: run `node scripts/build-web.mjs` (npm start does it) and restart',
      });
    }
    if (FILE.test(path)) {
      const immutable = path.startsWith('/assets/');
      return reply.sendFile(path, { maxAge: immutable ? 365 * 86_400_000 : 0, immutable });
    }
    return reply.headers(HTML_HEADERS).sendFile('index.html', { cacheControl: false });
  });
};
