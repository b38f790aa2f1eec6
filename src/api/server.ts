// Builds the Fastify app: validation, errors, auth, OpenAPI, and one plugin per resource.
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Router } from '../delivery/router.ts';
import type { WebhookSender } from '../delivery/sender.ts';
import type { Metrics } from '../metrics.ts';
import type { Rules } from '../rules/index.ts';
import type { Store } from '../store/index.ts';
import { HookdError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { Authenticator, installAuth } from './auth.ts';
import { installErrorHandler } from './error-handler.ts';
import { installDepthLimit, PublishRateLimiter } from './limits.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { eventRoutes } from './routes/events.ts';
import { filterReducerRoutes } from './routes/filter-reducer.ts';
import { reportRoutes } from './routes/reports.ts';
import { serviceRoutes } from './routes/service.ts';
import { subscriberActionRoutes } from './routes/subscriber-actions.ts';
import { validateRoutes } from './routes/validate.ts';
import { subscriberRoutes } from './routes/subscribers.ts';
import { SubscriberView } from './routes/subscriber-schemas.ts';
import { ErrorBody } from './schemas.ts';
import { validatorCompiler } from './validation.ts';

export const BODY_LIMIT = 1024 * 1024;

export interface ServerDeps {
  store: Store;
  router: Router;
  rules: Rules;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  /** Tells the dispatcher (if this process runs one) that these subscribers have work due now. */
  wake: (subscriberIds: number[]) => void;
  /** Tells the dispatcher (if any) to look at the whole queue again, after a bulk change. */
  rescan: () => void;
  sender: WebhookSender;
  /** Why a webhook URL is refused (SSRF guard), or null. */
  checkWebhookUrl: (url: URL) => Promise<string | null>;
  /** Events per second per organization; 0: no limit. */
  publishRateLimit: number;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Errors raised before routing (bad percent-encoding, an over-long path parameter) and at the HTTP level
    // (headers over 16 KiB, malformed HTTP) get the same {success, message, code} body as every other error.
    frameworkErrors: (error, _request, reply) => {
      const [status, code, message]: [number, string, string] =
        error.code === 'FST_ERR_BAD_URL' ? [400, 'BAD_REQUEST', 'the URL holds invalid percent-encoding']
        : error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? [414, 'URI_TOO_LONG', 'a path parameter is longer than 100 characters']
        : [500, 'INTERNAL_ERROR', 'something went wrong on our side; the request was not applied'];
      void (reply as unknown as FastifyReply).status(status).type('application/json').send({ success: false, message, code });
    },
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message]: [number, string, string] =
        error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'HEADERS_TOO_LARGE', 'the request line and headers are larger than 16 KiB']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
      const body = JSON.stringify({ success: false, message, code });
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(error);
    },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: any other content type is a 415, never a string handed to a handler.
  app.removeContentTypeParser('text/plain');
  // JSON must be UTF-8 (RFC 8259 §8.1): invalid bytes are a 400, never silently replaced by U+FFFD and stored.
  // Otherwise Fastify's own parser, with __proto__ and constructor.prototype keys refused.
  const parseJsonText = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new HookdError('INVALID_JSON', 'the body is not valid UTF-8'), undefined);
      return;
    }
    parseJsonText(request, text, done);
  });
  installErrorHandler(app);
  // Shared schemas are added at the root only: a plugin that adds its own gets a fresh default validator.
  app.addSchema(ErrorBody);
  app.addSchema(SubscriberView);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'hookd',
        version: VERSION,
        description:
          'Webhook dispatcher following the Fynd Platform partner webhook API. Errors are ' +
          '{"success": false, "message", "code"}. Authenticate with "Authorization: Bearer <api key>"; while no key ' +
          'exists the server is in open development mode (loopback only). Delivery is at-least-once (receivers ' +
          'dedupe on webhook-id) with no ordering promise between events.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  installAuth(app, new Authenticator(deps.store));
  installDepthLimit(app);
  await app.register(serviceRoutes, { store: deps.store, metrics: deps.metrics });
  await app.register(subscriberRoutes, { store: deps.store, rules: deps.rules, checkWebhookUrl: deps.checkWebhookUrl });
  await app.register(validateRoutes, { rules: deps.rules });
  await app.register(filterReducerRoutes, { store: deps.store, rules: deps.rules });
  await app.register(eventRoutes, { store: deps.store, router: deps.router, metrics: deps.metrics, limiter: new PublishRateLimiter(deps.publishRateLimit) });
  await app.register(deliveryRoutes, { store: deps.store, wake: deps.wake, rescan: deps.rescan });
  await app.register(subscriberActionRoutes, { store: deps.store, sender: deps.sender });
  await app.register(reportRoutes, { store: deps.store });
  // Last, and only a catch-all GET: every route above keeps priority.
  await app.register(dashboardRoutes);
  return app;
}
