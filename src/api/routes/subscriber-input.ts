// Checks a subscriber body beyond its schema and fills in the defaults (API.md § Subscribers).
import { newSecret } from '../../domain/ids.ts';
import { slugPatternProblem } from '../../domain/slug.ts';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUT_MS, type Subscriber, type SubscriberInput } from '../../domain/types.ts';
import { HookdError } from '../../errors.ts';
import { isReservedHeader } from '../../delivery/request.ts';
import { RuleError, type Rules } from '../../rules/index.ts';
import type { SubscriberBody } from './subscriber-schemas.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization']);

const invalid = (message: string) => new HookdError('VALIDATION_ERROR', message);

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('body.webhook_url must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('body.webhook_url must use http or https');
  if (url.username || url.password) throw invalid('body.webhook_url must not carry credentials; use custom_headers');
  return url.toString();
}

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw invalid(`body.custom_headers: "${name.slice(0, 100)}" is not a valid header name`);
    const lower = name.toLowerCase();
    if (isReservedHeader(lower) || HOP_BY_HOP.has(lower)) {
      throw invalid(`body.custom_headers: "${name}" is set by hookd and cannot be overridden`);
    }
    if (!HEADER_VALUE.test(value)) throw invalid(`body.custom_headers.${name} holds characters not allowed in a header value`);
  }
  return headers;
}

/** `existing`: on replace, the subscriber being replaced (its secret is kept unless a new one is given). */
export function toSubscriberInput(body: SubscriberBody, existing?: Subscriber): SubscriberInput {
  const seen = new Set<string>();
  const events = body.events.map((e, i) => {
    const problem = slugPatternProblem(e.slug);
    if (problem) throw invalid(`body.events[${i}].slug "${e.slug}" ${problem}`);
    if (seen.has(e.slug)) throw invalid(`body.events[${i}].slug "${e.slug}" is listed twice`);
    seen.add(e.slug);
    return { slug: e.slug, filters: e.filters ?? null, reducer: e.reducer ?? null };
  });
  const policy = { ...DEFAULT_RETRY_POLICY, ...body.retry_policy };
  if (policy.initial_backoff_ms > policy.max_backoff_ms) {
    throw invalid('body.retry_policy.initial_backoff_ms must not exceed max_backoff_ms');
  }
  const criteria = body.association.criteria ?? 'ALL';
  const applicationIds = body.association.application_id ?? [];
  if (criteria === 'SPECIFIC-EVENTS' && applicationIds.length === 0) {
    throw invalid('body.association.application_id must list at least one application when criteria is SPECIFIC-EVENTS');
  }
  return {
    name: body.name,
    webhook_url: checkUrl(body.webhook_url),
    association: { company_id: body.association.company_id, application_id: applicationIds, criteria },
    events,
    custom_headers: checkHeaders(body.custom_headers ?? {}),
    auth_meta: {
      type: body.auth_meta?.type ?? 'hmac',
      secret: body.auth_meta?.secret ?? existing?.auth_meta.secret ?? newSecret(),
    },
    email_id: body.email_id ?? null,
    status: body.status ?? 'active',
    retry_policy: policy,
    timeout_ms: body.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    max_in_flight: body.max_in_flight ?? DEFAULT_MAX_IN_FLIGHT,
  };
}

/** A subscriber as list and read responses show it: never the secret. */
export function withoutSecret(s: Subscriber): Omit<Subscriber, 'auth_meta'> & { auth_meta: { type: string } } {
  return { ...s, auth_meta: { type: s.auth_meta.type } };
}

/** Validates inline filters and reducers of a subscriber's events (422 naming the part at fault). */
export async function checkSubscriptionRules(input: SubscriberInput, rules: Rules): Promise<void> {
  try {
    for (const [i, e] of input.events.entries()) {
      if (e.filters !== null) await rules.validateFilter(e.filters, `body.events[${i}].filters`);
      if (e.reducer !== null) rules.validateReducer(e.reducer, `body.events[${i}].reducer`);
    }
  } catch (err) {
    if (err instanceof RuleError) throw new HookdError('INVALID_CONFIGURATION', err.message);
    throw err;
  }
}
