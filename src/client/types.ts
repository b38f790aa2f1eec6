// The client's types, derived from the TypeBox schemas the server validates and answers with, so they cannot drift.
// Type-only imports: nothing of the server is loaded at run time.
import type { Static } from '@sinclair/typebox';
import type { AttemptItem, DeliveryDetailSchema, DeliveryItem } from '../api/routes/delivery-schemas.ts';
import type { EventBody, PublishResult } from '../api/routes/events.ts';
import type { DeliverySummary, DeliveryTs, ReportQuerystring, ResponseTimeTs } from '../api/routes/reports.ts';
import type { FilterSchema, ReducerSchema } from '../api/routes/rule-schemas.ts';
import type { SubscriberBody, SubscriberView } from '../api/routes/subscriber-schemas.ts';
import type { DeliveryStatus, EventView, Page, SubscriberStatus } from '../domain/types.ts';

export type { DeliveryStatus, EventView, SubscriberStatus };
export type SubscriberInput = Static<typeof SubscriberBody>;
export type Subscriber = Static<typeof SubscriberView>;
export type EventInput = Static<typeof EventBody>;
export type PublishResult = Static<typeof PublishResult>;
export type Delivery = Static<typeof DeliveryItem>;
export type DeliveryDetail = Static<typeof DeliveryDetailSchema>;
export type Attempt = Static<typeof AttemptItem>;
export type Filter = Static<typeof FilterSchema>;
export type Reducer = Static<typeof ReducerSchema>;
export type ReportQuery = Static<typeof ReportQuerystring>;
export type ResponseTimeReport = Static<typeof ResponseTimeTs>;
export type DeliverySummaryReport = Static<typeof DeliverySummary>;
export type DeliveryTsReport = Static<typeof DeliveryTs>;

export interface Paged<T> {
  items: T[];
  page: Page;
}

export interface SubscriberQuery {
  page_no?: number;
  page_size?: number;
  company_id?: number;
  status?: SubscriberStatus;
}

export interface DeliveryQuery {
  page_no?: number;
  page_size?: number;
  company_id?: number;
  subscriber_id?: number;
  status?: DeliveryStatus;
  event_slug?: string;
  start_date?: string;
  end_date?: string;
}

export interface BulkRetryInput {
  start_date: string;
  end_date: string;
  subscriber_ids?: number[];
  event_slugs?: string[];
  status?: DeliveryStatus[];
}

export interface PingResult {
  status: 'SUCCESS' | 'FAILED';
  code: number;
  message: string;
  response_time: number;
}

export interface FilterValidationResult {
  success: boolean;
  message: string;
  filter_result: boolean;
}

export interface ReducerValidationResult {
  success: boolean;
  message: string;
  reducer_result: Record<string, unknown> | null;
}

export interface FilterReducerInput {
  event_slug: string;
  filter_configuration?: Filter | null;
  reducer_configuration?: Reducer | null;
}

export interface FilterReducerSaveResult {
  success: boolean;
  message: string;
  data: { subscriber_id: number; event_slug: string; filters: unknown; reducer: unknown };
}
