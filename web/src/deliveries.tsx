// Deliveries: the table (filtered by status, subscriber, slug and dates) refreshed every 2.5 s, a detail panel
// with the attempt log and response bodies, retry one, and bulk retry (POST P/retry).
import { useEffect, useRef, useState } from 'preact/hooks';
import { allSubscribers, api, DELIVERY_STATUSES, errorText, query, type Delivery, type DeliveryDetail, type Page, type Subscriber } from './api.ts';
import { Badge, ErrorMessage, formatTime, fromLocalInput, ms, Notice } from './ui.tsx';

const POLL_MS = 2500;
const PAGE_SIZE = 25;
const RETRYABLE = new Set(['SUCCESS', 'FAILED', 'DISABLED', 'RESYNC']);

interface Filters {
  status: string;
  subscriber_id: string;
  event_slug: string;
  start: string; // datetime-local values
  end: string;
}

function initialFilters(): Filters {
  const q = new URLSearchParams(location.search);
  return { status: q.get('status') ?? '', subscriber_id: q.get('subscriber_id') ?? '', event_slug: q.get('event_slug') ?? '', start: '', end: '' };
}

export function Deliveries() {
  const [filters, setFilters] = useState<Filters>(initialFilters);
  const [slugDraft, setSlugDraft] = useState(filters.event_slug);
  const [pageNo, setPageNo] = useState(1);
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [live, setLive] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [subscribers, setSubscribers] = useState<Subscriber[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [detail, setDetail] = useState<DeliveryDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  const busy = useRef(false);

  useEffect(() => {
    allSubscribers().then(setSubscribers, () => undefined);
  }, []);

  const load = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const res = await api<{ items: Delivery[]; page: Page }>(
        'GET',
        `/delivery${query({
          page_no: pageNo,
          page_size: PAGE_SIZE,
          status: filters.status,
          subscriber_id: filters.subscriber_id,
          event_slug: filters.event_slug,
          start_date: fromLocalInput(filters.start),
          end_date: fromLocalInput(filters.end),
        })}`,
      );
      setItems(res.items);
      setPage(res.page);
      setUpdated(new Date());
      setError(null);
      if (selected !== null) {
        try {
          setDetail(await api<DeliveryDetail>('GET', `/delivery/${selected}`));
          setDetailError(null);
        } catch (err) {
          setDetailError(errorText(err));
        }
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      busy.current = false;
    }
  };

  // Load now and whenever the filters change; while live, poll.
  useEffect(() => {
    void load();
    if (!live) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [filters, pageNo, live, selected]);

  const set = (patch: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...patch }));
    setPageNo(1);
  };

  const retry = async (id: number) => {
    try {
      const res = await api<{ message: string }>('POST', `/delivery/${id}/retry`);
      setNotice(res.message);
      setError(null);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const subscriberName = (id: number) => subscribers.find((s) => s.id === id)?.name;

  return (
    <section aria-labelledby="deliveries-title">
      <div class="view-head">
        <h1 id="deliveries-title" tabIndex={-1}>
          Deliveries
        </h1>
        <div class="actions">
          <label class="inline">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Refresh every {POLL_MS / 1000} s
          </label>
          <span class="muted small" aria-live="off">
            {updated ? `updated ${updated.toLocaleTimeString()}` : 'loading…'}
          </span>
        </div>
      </div>

      <form
        class="filters"
        aria-label="Filter deliveries"
        onSubmit={(e) => {
          e.preventDefault();
          set({ event_slug: slugDraft.trim() });
        }}
      >
        <div>
          <label for="f-status">Status</label>
          <select id="f-status" value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
            <option value="">any</option>
            {DELIVERY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-subscriber">Subscriber</label>
          <select id="f-subscriber" value={filters.subscriber_id} onChange={(e) => set({ subscriber_id: e.currentTarget.value })}>
            <option value="">any</option>
            {filters.subscriber_id && !subscribers.some((s) => String(s.id) === filters.subscriber_id) && (
              <option value={filters.subscriber_id}>#{filters.subscriber_id}</option>
            )}
            {subscribers.map((s) => (
              <option key={s.id} value={String(s.id)}>
                #{s.id} {s.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-slug">Event slug</label>
          <input
            id="f-slug"
            value={slugDraft}
            placeholder="company/product/create/v1"
            onInput={(e) => setSlugDraft(e.currentTarget.value)}
            onChange={(e) => set({ event_slug: e.currentTarget.value.trim() })}
          />
        </div>
        <div>
          <label for="f-start">Created from</label>
          <input id="f-start" type="datetime-local" value={filters.start} onChange={(e) => set({ start: e.currentTarget.value })} />
        </div>
        <div>
          <label for="f-end">Created to</label>
          <input id="f-end" type="datetime-local" value={filters.end} onChange={(e) => set({ end: e.currentTarget.value })} />
        </div>
        <div class="actions">
          <button type="submit">Apply</button>
          <button
            type="button"
            onClick={() => {
              setSlugDraft('');
              set({ status: '', subscriber_id: '', event_slug: '', start: '', end: '' });
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <BulkRetry filters={filters} onDone={(text) => (setNotice(text), void load())} />

      {notice && <Notice>{notice}</Notice>}
      <ErrorMessage error={error} />

      <div class={selected !== null ? 'split' : ''}>
        <div class="table-wrap">
          {items && items.length === 0 && <p>No deliveries match.</p>}
          {items && items.length > 0 && (
            <table>
              <caption class="sr-only">Deliveries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Event</th>
                  <th scope="col">Subscriber</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last attempt</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.id} data-delivery={d.id} class={d.id === selected ? 'selected' : ''}>
                    <td>{d.id}</td>
                    <td>
                      <code>{d.event_slug}</code>
                      <div class="muted small">created {formatTime(d.created_on)}</div>
                    </td>
                    <td>
                      <span class="nowrap">{subscriberName(d.subscriber_id) ?? ''}</span> <span class="muted">#{d.subscriber_id}</span>
                    </td>
                    <td>
                      <Badge value={d.status} />
                      <div class="muted small nowrap">
                        {d.attempt} {d.attempt === 1 ? 'attempt' : 'attempts'}
                      </div>
                    </td>
                    <td class="nowrap">
                      {d.response_code === null ? '—' : `${d.response_code === 0 ? 'no response' : d.response_code} · ${ms(d.response_time)}`}
                      <div class="muted small">{d.last_attempted_on ? formatTime(d.last_attempted_on) : ''}</div>
                    </td>
                    <td>
                      <div class="actions">
                        <button type="button" aria-pressed={d.id === selected} onClick={() => setSelected(d.id === selected ? null : d.id)}>
                          Details
                        </button>
                        {RETRYABLE.has(d.status) && (
                          <button type="button" onClick={() => void retry(d.id)} aria-label={`Retry delivery ${d.id}`}>
                            Retry
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {page && (page.has_next || pageNo > 1) && (
            <div class="pager">
              <button type="button" disabled={pageNo <= 1} onClick={() => setPageNo(pageNo - 1)}>
                Previous
              </button>
              <span>
                Page {page.current} · {page.item_total} deliveries
              </span>
              <button type="button" disabled={!page.has_next} onClick={() => setPageNo(pageNo + 1)}>
                Next
              </button>
            </div>
          )}
        </div>
        {selected !== null && (
          <DetailPanel
            detail={detail?.id === selected ? detail : null}
            error={detailError}
            subscriberName={detail ? subscriberName(detail.subscriber_id) : undefined}
            onRetry={() => void retry(selected)}
            onClose={() => {
              setSelected(null);
              setDetail(null);
            }}
          />
        )}
      </div>
    </section>
  );
}

function DetailPanel(props: { detail: DeliveryDetail | null; error: string | null; subscriberName?: string | undefined; onRetry: () => void; onClose: () => void }) {
  const d = props.detail;
  return (
    <aside class="card detail" aria-label="Delivery detail">
      <div class="view-head">
        <h2>Delivery {d?.id ?? ''}</h2>
        <div class="actions">
          {d && RETRYABLE.has(d.status) && (
            <button type="button" class="primary" onClick={props.onRetry}>
              Retry now
            </button>
          )}
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </div>
      </div>
      <ErrorMessage error={props.error} />
      {!d && !props.error && <p>loading…</p>}
      {d && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={d.status} />
            </dd>
            <dt>Event</dt>
            <dd>
              <code>{d.event_slug}</code> <span class="muted small">{d.event_id}</span>
            </dd>
            <dt>Subscriber</dt>
            <dd>
              {props.subscriberName ?? ''} #{d.subscriber_id} · company {d.company_id}
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(d.created_on)}</dd>
            <dt>Next attempt</dt>
            <dd>{formatTime(d.next_attempt_on)}</dd>
            {d.error && (
              <>
                <dt>Error</dt>
                <dd class="error-text">{d.error}</dd>
              </>
            )}
          </dl>
          <h3>Attempts ({d.attempts.length})</h3>
          {d.attempts.length === 0 && <p class="muted">No attempt yet.</p>}
          <ol class="attempts">
            {d.attempts.map((a) => (
              <li key={a.attempt} class="attempt">
                <div>
                  <strong>#{a.attempt}</strong> {formatTime(a.attempted_on)} ·{' '}
                  <span class={a.response_code >= 200 && a.response_code < 300 ? 'ok-text' : 'error-text'}>
                    {a.response_code === 0 ? 'no response' : `HTTP ${a.response_code}`}
                  </span>{' '}
                  · {ms(a.response_time)}
                </div>
                {a.error && a.error !== `HTTP ${a.response_code}` && <div class="error-text small">{a.error}</div>}
                {a.response_body !== null && a.response_body !== '' && (
                  <pre class="body" aria-label={`Response body of attempt ${a.attempt}`}>
                    {a.response_body}
                  </pre>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </aside>
  );
}

/** POST P/retry for the deliveries the table's filters select (subscriber, slug, dates; no dates: all of them). */
function BulkRetry({ filters, onDone }: { filters: Filters; onDone: (text: string) => void }) {
  const [statuses, setStatuses] = useState<string[]>(['FAILED', 'DISABLED']);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {
      // The range is required by the API: an open end of the table's filter is the beginning of time, or now.
      start_date: fromLocalInput(filters.start) ?? new Date(0).toISOString(),
      end_date: fromLocalInput(filters.end) ?? new Date().toISOString(),
      status: statuses,
    };
    if (filters.subscriber_id) body.subscriber_ids = [Number(filters.subscriber_id)];
    if (filters.event_slug) body.event_slugs = [filters.event_slug];
    try {
      const res = await api<{ queued: number }>('POST', '/retry', body);
      setError(null);
      onDone(`Bulk retry: ${res.queued} ${res.queued === 1 ? 'delivery' : 'deliveries'} queued again`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const toggle = (s: string, on: boolean) => setStatuses((list) => (on ? [...list, s] : list.filter((x) => x !== s)));
  const scope = [
    filters.subscriber_id && `subscriber #${filters.subscriber_id}`,
    filters.event_slug,
    filters.start && `created from ${filters.start.replace('T', ' ')}`,
    filters.end && `created to ${filters.end.replace('T', ' ')}`,
  ].filter(Boolean);

  return (
    <details class="card bulk">
      <summary>Bulk retry</summary>
      <form onSubmit={submit} class="filters" aria-label="Bulk retry">
        <fieldset>
          <legend>Statuses</legend>
          {['FAILED', 'DISABLED'].map((s) => (
            <label class="inline" key={s}>
              <input type="checkbox" checked={statuses.includes(s)} onChange={(e) => toggle(s, e.currentTarget.checked)} /> {s}
            </label>
          ))}
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={statuses.length === 0}>
            Retry matching deliveries
          </button>
        </div>
        <p class="hint">
          Queues again every delivery in these statuses that the filters above select
          {scope.length > 0 ? ` (${scope.join(', ')})` : ' (no subscriber, slug or date filter: all of them)'}; the table's status
          filter is not used.
        </p>
      </form>
      <ErrorMessage error={error} />
    </details>
  );
}
