// TypeBox schemas of deliveries and attempts.
import { Type } from '@sinclair/typebox';
import { DELIVERY_STATUSES } from '../../domain/types.ts';
import { StringEnum } from '../schemas.ts';

export const DeliveryStatusSchema = StringEnum(DELIVERY_STATUSES);

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const DeliveryItem = Type.Object({
  id: Type.Integer(),
  event_id: Type.String(),
  event_slug: Type.String(),
  subscriber_id: Type.Integer(),
  company_id: Type.Integer(),
  status: DeliveryStatusSchema,
  attempt: Type.Integer({ description: 'Attempts made so far' }),
  response_code: Type.Union([Type.Integer(), Type.Null()], { description: 'Status of the last attempt; 0 for a network error or time-out' }),
  response_time: Type.Union([Type.Number(), Type.Null()], { description: 'Duration of the last attempt in ms' }),
  last_attempted_on: NullableString,
  next_attempt_on: NullableString,
  created_on: Type.String(),
});

export const AttemptItem = Type.Object({
  attempt: Type.Integer(),
  attempted_on: Type.String(),
  response_code: Type.Integer(),
  response_time: Type.Number({ description: 'ms' }),
  response_body: Type.Union([Type.String({ description: 'First 4 KiB of the response body' }), Type.Null()]),
  error: NullableString,
});

export const DeliveryDetailSchema = Type.Object({
  ...DeliveryItem.properties,
  error: NullableString,
  attempts: Type.Array(AttemptItem),
});

