// HookdClient: the whole hookd HTTP API from TypeScript, one method per operation, errors as typed exceptions.
import type * as T from './types.ts';

export type * from './types.ts';

export interface HookdClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080 */
  url: string;
  /** API key; leave out in open development mode. */
  apiKey?: string;
  organizationId: string;
  extensionId: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** An answer other than 2xx: the server's `{success:false, message, code}` with its HTTP status. */
export class HookdApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HookdApiError';
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export class HookdClient {
  private readonly base: string;
  private readonly tenant: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: HookdClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.tenant =
      `/service/partner/webhook/v1.0/organization/${encodeURIComponent(options.organizationId)}` +
      `/extension/${encodeURIComponent(options.extensionId)}`;
    this.doFetch = options.fetch ?? fetch;
  }

  // Subscribers
  listSubscribers = (query: T.SubscriberQuery = {}) => this.get<T.Paged<T.Subscriber>>('/subscriber', query);
  getSubscriber = (id: number) => this.get<T.Subscriber>(`/subscriber/${id}`);
  createSubscriber = (body: T.SubscriberInput) => this.send<T.Subscriber>('POST', '/subscriber', body);
  replaceSubscriber = (id: number, body: T.SubscriberInput) => this.send<T.Subscriber>('PUT', `/subscriber/${id}`, body);
  setSubscriberStatus = (id: number, status: 'active' | 'inactive') =>
    this.send<{ success: true; message: string }>('PATCH', `/subscriber/${id}`, { status });
  deleteSubscriber = (id: number) => this.send<{ success: true; message: string }>('DELETE', `/subscriber/${id}`);
  getSubscriberSecret = (id: number) => this.get<{ secret: string }>(`/subscriber/${id}/secret`);
  rotateSubscriberSecret = (id: number) => this.send<{ secret: string }>('POST', `/subscriber/${id}/secret/rotate`);
  pingSubscriber = (id: number) => this.send<T.PingResult>('POST', `/subscriber/${id}/ping`);

  // Events
  publishEvent = (companyId: number, event: T.EventInput, options: { idempotencyKey?: string } = {}) =>
    this.send<T.PublishResult>('POST', `/company/${companyId}/event`, event, options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {});
  publishEvents = (companyId: number, events: T.EventInput[]) =>
    this.send<{ items: T.PublishResult[] }>('POST', `/company/${companyId}/event/batch`, { events });
  getEvent = (eventId: string) => this.get<T.EventView>(`/event/${encodeURIComponent(eventId)}`);

  // Deliveries
  listDeliveries = (query: T.DeliveryQuery = {}) => this.get<T.Paged<T.Delivery>>('/delivery', query);
  listDeliveriesCsv = (query: T.DeliveryQuery = {}) => this.request<string>('GET', '/delivery', { query: { ...query, format: 'csv' }, text: true });
  getDelivery = (id: number) => this.get<T.DeliveryDetail>(`/delivery/${id}`);
  retryDelivery = (id: number) => this.send<{ success: true; message: string; status: T.DeliveryStatus }>('POST', `/delivery/${id}/retry`);
  retryDeliveries = (body: T.BulkRetryInput) => this.send<{ queued: number }>('POST', '/retry', body);

  // Filters and reducers
  validateFilter = (body: { sample_data: Record<string, unknown>; filters: T.Filter }) =>
    this.send<T.FilterValidationResult>('POST', '/validate/filter', body);
  validateReducer = (body: { sample_data: Record<string, unknown>; reducer: T.Reducer }) =>
    this.send<T.ReducerValidationResult>('POST', '/validate/reducer', body);
  saveFilterReducer = (companyId: number, subscriberId: number, body: T.FilterReducerInput) =>
    this.send<T.FilterReducerSaveResult>('PUT', `/company/${companyId}/subscriber/${subscriberId}/filter_reducer`, body);

  // Reports
  responseTimeReport = (query: T.ReportQuery) => this.get<T.ResponseTimeReport>('/report/response_time_ts', query);
  deliverySummary = (query: T.ReportQuery) => this.get<T.DeliverySummaryReport>('/report/delivery_summary', query);
  deliveryTimeSeries = (query: T.ReportQuery) => this.get<T.DeliveryTsReport>('/report/delivery_ts', query);

  // Service
  health = () => this.request<{ status: 'ok' }>('GET', '/healthz', { raw: true });
  ready = () => this.request<{ status: string }>('GET', '/readyz', { raw: true });

  private get<R>(path: string, query?: object): Promise<R> {
    return this.request<R>('GET', path, { query: query as Query });
  }

  private send<R>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<R> {
    return this.request<R>(method, path, { body, headers });
  }

  private async request<R>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; headers?: Record<string, string>; raw?: boolean; text?: boolean } = {},
  ): Promise<R> {
    const url = new URL(this.base + (opts.raw ? path : this.tenant + path));
    for (const [key, value] of Object.entries(opts.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: opts.text ? 'text/csv' : 'application/json', ...opts.headers };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.doFetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    if (!res.ok) {
      let error: { message?: string; code?: string } = {};
      try {
        error = JSON.parse(text);
      } catch {}
      throw new HookdApiError(res.status, error.code ?? `HTTP_${res.status}`, error.message ?? (text || res.statusText));
    }
    return (opts.text ? text : text ? JSON.parse(text) : undefined) as R;
  }
}
