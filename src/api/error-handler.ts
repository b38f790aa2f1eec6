// Turns every failure into {success:false, message, code}: client mistakes get a 4xx naming the problem;
// anything else is logged and answered with a bare 500 (no stack, no SQL, no secret leaves the server).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HookdError } from '../errors.ts';
import { isStoreUnavailable } from '../store/index.ts';

interface ValidationIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

function describeValidation(context: string, issues: ValidationIssue[]): string {
  const issue = issues[0];
  if (!issue) return `${context} is invalid`;
  const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const field = path ? `${context}.${path}` : context;
  if (issue.keyword === 'required') return `${field === context ? context : field} must have the field '${String(issue.params.missingProperty)}'`;
  if (issue.keyword === 'enum') return `${field} must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}`;
  if (issue.keyword === 'const') return `${field} must be ${JSON.stringify(issue.params.allowedValue)}`;
  if (issue.keyword === 'anyOf' || issue.keyword === 'oneOf') return `${field} has an unexpected type or value`;
  return `${field} ${issue.message ?? 'is invalid'}`;
}

const send = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.status(status).type('application/json').send({ success: false, message, code });

/**
 * What a client sees while the database is down (restarting, failing over, unreachable). It does not say "nothing was
 * changed": a connection lost during COMMIT leaves that unknown. A publish retried with the same Idempotency-Key is safe.
 */
const STORE_UNAVAILABLE_MESSAGE = 'the database is unavailable right now and the request could not be completed; try again in a few seconds';

export function installErrorHandler(app: FastifyInstance): void {
  let unavailableLoggedAt = 0;
  let unavailableSilenced = 0;
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof HookdError) {
      const retryAfter = (error as HookdError & { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
      return send(reply, error.status, error.code, error.message);
    }
    if (error.validation) {
      return send(reply, 400, 'VALIDATION_ERROR', describeValidation(error.validationContext ?? 'request', error.validation as ValidationIssue[]));
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        // The batch route allows 16 MiB; every other route 1 MiB.
        return send(reply, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than the ${Math.round((request.routeOptions.bodyLimit ?? 1048576) / 1048576)} MiB limit`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(reply, 400, 'INVALID_JSON', 'the body is empty; send a JSON object');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return send(reply, 400, 'BAD_REQUEST', 'the content-length does not match the body');
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return send(reply, 400, 'INVALID_JSON', 'the body is not valid JSON');
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, error.statusCode, 'BAD_REQUEST', 'the request could not be read');
    }
    if (isStoreUnavailable(error)) {
      // Every request fails the same way during an outage: one log line a second at most, counting the others.
      const now = Date.now();
      if (now - unavailableLoggedAt >= 1000) {
        request.log.warn({ reason: error.message, code: error.code, alsoAnswered503: unavailableSilenced }, 'store unavailable: answered 503');
        unavailableLoggedAt = now;
        unavailableSilenced = 0;
      } else unavailableSilenced++;
      reply.header('retry-after', '5');
      return send(reply, 503, 'STORE_UNAVAILABLE', STORE_UNAVAILABLE_MESSAGE);
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, 500, 'INTERNAL_ERROR', 'something went wrong on our side; the request was not applied');
  });

  app.setNotFoundHandler((request, reply) => send(reply, 404, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`));
}
