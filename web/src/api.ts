// The connection (organization, extension, API key) and a tiny fetch wrapper for hookd's API.
// The key lives in sessionStorage only (gone when the tab closes); organization and extension in localStorage.

export interface Connection {
  organization: string;
  extension: string;
  key: string;
}

const KEY = 'hookd.key';
const TENANT = 'hookd.tenant';

export function loadConnection(): Connection | null {
  const tenant = localStorage.getItem(TENANT);
  if (tenant === null) return null;
  try {
    const { organization, extension } = JSON.parse(tenant) as Partial<Connection>;
    if (!organization || !extension) return null;
    return { organization, extension, key: sessionStorage.getItem(KEY) ?? '' };
  } catch {
    return null;
  }
}

export function saveConnection(c: Connection): void {
  localStorage.setItem(TENANT, JSON.stringify({ organization: c.organization, extension: c.extension }));
  if (c.key) sessionStorage.setItem(KEY, c.key);
  else sessionStorage.removeItem(KEY);
  current = c;
}

let current: Connection | null = loadConnection();

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const tenantPath = (c: Connection) =>
  `/service/partner/webhook/v1.0/organization/${encodeURIComponent(c.organization)}/extension/${encodeURIComponent(c.extension)}`;

/** Calls `P + path` (P = the tenant prefix) and returns the JSON body; a non-2xx answer throws ApiError with the API's message. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  if (!current) throw new ApiError(0, 'NO_CONNECTION', 'set the organization and extension first');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (current.key) headers.authorization = `Bearer ${current.key}`;
  let res: Response;
  try {
    res = await fetch(tenantPath(current) + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'hookd does not answer (is the server running?)');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: reported below when the status is an error.
  }
  if (!res.ok) {
    const err = (json ?? {}) as { message?: string; code?: string };
    throw new ApiError(res.status, err.code ?? 'HTTP_' + res.status, err.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// Shapes of the API's answers (docs: /docs, /work/shared/API.md).

export interface Page {
  current: number;
  size: number;
  item_total: number;
  has_next: boolean;
}

export interface EventSubscription {
  slug: string;
  filters: unknown;
  reducer: unknown;
}

export interface Subscriber {
  id: number;
  name: string;
  webhook_url: string;
  association: { company_id: number; application_id: string[]; criteria: string };
  events: EventSubscription[];
  custom_headers: Record<string, string>;
  email_id: string | null;
  status: 'active' | 'inactive' | 'blocked';
  retry_policy: { max_attempts: number; max_age_seconds: number; initial_backoff_ms: number; max_backoff_ms: number };
  timeout_ms: number;
  max_in_flight: number;
  created_on: string;
  updated_on: string;
  last_success_on: string | null;
  last_failure_on: string | null;
}

export const DELIVERY_STATUSES = ['PENDING', 'SUCCESS', 'FAILED', 'DISABLED', 'RESYNC', 'FILTER_ERROR'] as const;

export interface Delivery {
  id: number;
  event_id: string;
  event_slug: string;
  subscriber_id: number;
  company_id: number;
  status: (typeof DELIVERY_STATUSES)[number];
  attempt: number;
  response_code: number | null;
  response_time: number | null;
  last_attempted_on: string | null;
  next_attempt_on: string | null;
  created_on: string;
}

export interface Attempt {
  attempt: number;
  attempted_on: string;
  response_code: number;
  response_time: number;
  response_body: string | null;
  error: string | null;
}

export interface DeliveryDetail extends Delivery {
  error: string | null;
  attempts: Attempt[];
}

/** Every subscriber of the tenant (pages of 100), for pickers. */
export async function allSubscribers(): Promise<Subscriber[]> {
  const all: Subscriber[] = [];
  for (let page = 1; page <= 50; page++) {
    const res = await api<{ items: Subscriber[]; page: Page }>('GET', `/subscriber${query({ page_no: page, page_size: 100 })}`);
    all.push(...res.items);
    if (!res.page.has_next) break;
  }
  return all;
}
