// TypeBox schemas of subscribers: one source for validation, handler types and the OpenAPI description.
import { Type, type Static } from '@sinclair/typebox';
import { PageInfo, PositiveInt, StringEnum } from '../schemas.ts';
import { FilterSchema, ReducerSchema } from './rule-schemas.ts';

const Slug = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Event slug pattern category/name/type/vN; a segment may be * (e.g. application/order/*/v1)',
});

export const EventSubscriptionSchema = Type.Object({
  slug: Slug,
  filters: Type.Optional(Type.Union([FilterSchema, Type.Null()])),
  reducer: Type.Optional(Type.Union([ReducerSchema, Type.Null()])),
});

export const RetryPolicySchema = Type.Object({
  max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  max_age_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 172800 })),
  initial_backoff_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000, default: 5000 })),
  max_backoff_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000, default: 14_400_000 })),
});

export const SubscriberBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    webhook_url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL that receives the events' }),
    association: Type.Object({
      company_id: PositiveInt,
      application_id: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000, default: [] })),
      criteria: Type.Optional(
        StringEnum(['ALL', 'EMPTY', 'SPECIFIC-EVENTS'] as const, { default: 'ALL' }),
      ),
    }),
    events: Type.Array(EventSubscriptionSchema, { minItems: 1, maxItems: 100 }),
    custom_headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { maxProperties: 20 })),
    auth_meta: Type.Optional(
      Type.Object({
        type: Type.Optional(Type.String({ enum: ['hmac'], default: 'hmac' })),
        secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'Signing secret; generated (whsec_…) when left out' })),
      }),
    ),
    email_id: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
    status: Type.Optional(StringEnum(['active', 'inactive'] as const, { default: 'active' })),
    retry_policy: Type.Optional(RetryPolicySchema),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 60000, default: 10000 })),
    max_in_flight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 32 })),
  },
  { description: 'A subscriber: where events go, which events, and how they are signed and retried.' },
);
export type SubscriberBody = Static<typeof SubscriberBody>;

export const SubscriberView = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    webhook_url: Type.String(),
    association: Type.Object({
      company_id: Type.Integer(),
      application_id: Type.Array(Type.String()),
      criteria: Type.String(),
    }),
    events: Type.Array(
      Type.Object({ slug: Type.String(), filters: Type.Union([Type.Unknown(), Type.Null()]), reducer: Type.Union([Type.Unknown(), Type.Null()]) }),
    ),
    custom_headers: Type.Record(Type.String(), Type.String()),
    auth_meta: Type.Object({ type: Type.String(), secret: Type.Optional(Type.String()) }),
    email_id: Type.Union([Type.String(), Type.Null()]),
    status: Type.String({ enum: ['active', 'inactive', 'blocked'] }),
    retry_policy: Type.Object({
      max_attempts: Type.Integer(),
      max_age_seconds: Type.Integer(),
      initial_backoff_ms: Type.Integer(),
      max_backoff_ms: Type.Integer(),
    }),
    timeout_ms: Type.Integer(),
    max_in_flight: Type.Integer(),
    created_on: Type.String(),
    updated_on: Type.String(),
    last_success_on: Type.Union([Type.String(), Type.Null()], { description: 'When a delivery to it last succeeded' }),
    last_failure_on: Type.Union([Type.String(), Type.Null()], { description: 'When a delivery attempt to it last failed' }),
  },
  { $id: 'Subscriber' },
);

export const SubscriberList = Type.Object({ items: Type.Array(Type.Ref(SubscriberView)), page: PageInfo });

export const SubscriberIdParams = Type.Object({
  organization_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  extension_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  id: PositiveInt,
});
