// Subscribers: the table with status badges and events, activate/deactivate, ping, and the create/edit form
// (validation is the API's: its message is shown as is).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText, query, type Page, type Subscriber } from './api.ts';
import { Badge, ErrorMessage, formatTime, Link, Notice } from './ui.tsx';

const PAGE_SIZE = 20;

interface PingResult {
  status: 'SUCCESS' | 'FAILED';
  code: number;
  message: string;
  response_time: number;
}

export function Subscribers() {
  const [items, setItems] = useState<Subscriber[] | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [pageNo, setPageNo] = useState(1);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<ComponentChildren>(null);
  const [rowNotes, setRowNotes] = useState<Record<number, { text: string; ok: boolean }>>({});
  const [editing, setEditing] = useState<Subscriber | 'new' | null>(null);

  const load = async () => {
    try {
      const res = await api<{ items: Subscriber[]; page: Page }>('GET', `/subscriber${query({ page_no: pageNo, page_size: PAGE_SIZE })}`);
      setItems(res.items);
      setPage(res.page);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), [pageNo]);

  const note = (id: number, text: string, ok: boolean) => setRowNotes((n) => ({ ...n, [id]: { text, ok } }));

  const setStatus = async (s: Subscriber, status: 'active' | 'inactive') => {
    try {
      const res = await api<{ message: string }>('PATCH', `/subscriber/${s.id}`, { status });
      note(s.id, res.message, true);
      await load();
    } catch (err) {
      note(s.id, errorText(err), false);
    }
  };

  const ping = async (s: Subscriber) => {
    note(s.id, 'pinging…', true);
    try {
      const r = await api<PingResult>('POST', `/subscriber/${s.id}/ping`);
      note(s.id, `ping ${r.status}: ${r.code || 'no response'} in ${Math.round(r.response_time)} ms${r.status === 'FAILED' ? ` (${r.message})` : ''}`, r.status === 'SUCCESS');
    } catch (err) {
      note(s.id, errorText(err), false);
    }
  };

  return (
    <section aria-labelledby="subscribers-title">
      <div class="view-head">
        <h1 id="subscribers-title" tabIndex={-1}>
          Subscribers
        </h1>
        <div class="actions">
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
          <button type="button" class="primary" onClick={() => setEditing('new')}>
            New subscriber
          </button>
        </div>
      </div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorMessage error={error} />
      {editing && (
        <SubscriberForm
          existing={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(s, secret) => {
            setEditing(null);
            setNotice(
              secret ? (
                <>
                  Subscriber {s.id} “{s.name}” created. Its signing secret (also at GET …/subscriber/{s.id}/secret): <code>{secret}</code>
                </>
              ) : (
                <>Subscriber {s.id} “{s.name}” saved.</>
              ),
            );
            void load();
          }}
        />
      )}
      {items && items.length === 0 && <p>No subscribers yet in this organization and extension. Create one with “New subscriber”.</p>}
      {items && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Subscribers</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name and URL</th>
                <th scope="col">Company</th>
                <th scope="col">Status</th>
                <th scope="col">Events</th>
                <th scope="col">Last success</th>
                <th scope="col">Last failure</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id} data-subscriber={s.id}>
                  <td>{s.id}</td>
                  <td>
                    <strong>{s.name}</strong>
                    <div class="muted small break">{s.webhook_url}</div>
                  </td>
                  <td>
                    {s.association.company_id}
                    <div class="muted small">{s.association.criteria}</div>
                  </td>
                  <td>
                    <Badge value={s.status} />
                  </td>
                  <td>
                    <ul class="chips">
                      {s.events.map((e) => (
                        <li key={e.slug}>
                          <code>{e.slug}</code>
                          {e.filters != null && <span class="tag">filter</span>}
                          {e.reducer != null && <span class="tag">reducer</span>}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td class="nowrap">{s.last_success_on ? formatTime(s.last_success_on) : '—'}</td>
                  <td class="nowrap">{s.last_failure_on ? formatTime(s.last_failure_on) : '—'}</td>
                  <td>
                    <div class="actions">
                      {s.status === 'active' ? (
                        <button type="button" onClick={() => void setStatus(s, 'inactive')}>
                          Deactivate
                        </button>
                      ) : (
                        <button type="button" onClick={() => void setStatus(s, 'active')}>
                          Activate
                        </button>
                      )}
                      <button type="button" onClick={() => void ping(s)}>
                        Ping
                      </button>
                      <button type="button" onClick={() => setEditing(s)}>
                        Edit
                      </button>
                      <Link href={`/deliveries?subscriber_id=${s.id}`}>Deliveries</Link>
                    </div>
                    {rowNotes[s.id] && (
                      <div class={`small ${rowNotes[s.id]!.ok ? 'ok-text' : 'error-text'}`} role="status">
                        {rowNotes[s.id]!.text}
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && (page.has_next || pageNo > 1) && (
        <div class="pager">
          <button type="button" disabled={pageNo <= 1} onClick={() => setPageNo(pageNo - 1)}>
            Previous
          </button>
          <span>
            Page {page.current} · {page.item_total} subscribers
          </span>
          <button type="button" disabled={!page.has_next} onClick={() => setPageNo(pageNo + 1)}>
            Next
          </button>
        </div>
      )}
    </section>
  );
}

function SubscriberForm({ existing, onSaved, onCancel }: { existing: Subscriber | null; onSaved: (s: Subscriber, secret?: string) => void; onCancel: () => void }) {
  const [name, setName] = useState(existing?.name ?? '');
  const [url, setUrl] = useState(existing?.webhook_url ?? '');
  const [company, setCompany] = useState(String(existing?.association.company_id ?? 1));
  const [criteria, setCriteria] = useState(existing?.association.criteria ?? 'ALL');
  const [apps, setApps] = useState(existing?.association.application_id.join(', ') ?? '');
  const [slugs, setSlugs] = useState(existing?.events.map((e) => e.slug).join('\n') ?? '');
  const [email, setEmail] = useState(existing?.email_id ?? '');
  const [timeout, setTimeoutMs] = useState(existing ? String(existing.timeout_ms) : '');
  const [maxAttempts, setMaxAttempts] = useState(existing ? String(existing.retry_policy.max_attempts) : '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const num = (v: string) => (/^\s*-?\d+\s*$/.test(v) ? Number(v) : v);
  const submit = async (e: Event) => {
    e.preventDefault();
    const events = slugs
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((slug) => {
        // Keep the filter and reducer saved for a slug that stays.
        const kept = existing?.events.find((ev) => ev.slug === slug);
        return kept ? { slug, filters: kept.filters, reducer: kept.reducer } : { slug };
      });
    const body: Record<string, unknown> = {
      // A replace takes the whole subscriber: carry over what this form does not edit.
      ...(existing && {
        custom_headers: existing.custom_headers,
        max_in_flight: existing.max_in_flight,
        status: existing.status === 'inactive' ? 'inactive' : 'active',
      }),
      name,
      webhook_url: url,
      association: {
        company_id: num(company),
        criteria,
        application_id: apps.split(',').map((a) => a.trim()).filter(Boolean),
      },
      events,
      email_id: email.trim() || null,
    };
    if (timeout.trim()) body.timeout_ms = num(timeout);
    if (maxAttempts.trim() || existing) body.retry_policy = { ...existing?.retry_policy, ...(maxAttempts.trim() && { max_attempts: num(maxAttempts) }) };
    setBusy(true);
    try {
      if (existing) onSaved(await api<Subscriber>('PUT', `/subscriber/${existing.id}`, body));
      else {
        const created = await api<Subscriber & { auth_meta: { secret?: string } }>('POST', '/subscriber', body);
        onSaved(created, created.auth_meta.secret);
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const title = existing ? `Edit subscriber ${existing.id}` : 'New subscriber';
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {/* noValidate: the API validates, and its messages are the ones shown. */}
      <form onSubmit={submit} noValidate class="form-grid">
        <label for="sub-name">Name</label>
        <input id="sub-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="sub-url">Webhook URL</label>
        <input id="sub-url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.com/hooks" />
        <label for="sub-company">Company id</label>
        <input id="sub-company" inputMode="numeric" value={company} onInput={(e) => setCompany(e.currentTarget.value)} />
        <label for="sub-criteria">Criteria</label>
        <select id="sub-criteria" value={criteria} onChange={(e) => setCriteria(e.currentTarget.value)}>
          <option value="ALL">ALL — company events and every application's</option>
          <option value="EMPTY">EMPTY — company-level events only</option>
          <option value="SPECIFIC-EVENTS">SPECIFIC-EVENTS — only the applications listed</option>
        </select>
        <label for="sub-apps">Application ids</label>
        <input id="sub-apps" value={apps} onInput={(e) => setApps(e.currentTarget.value)} placeholder="comma-separated, e.g. app1, app2" />
        <label for="sub-events">Event slugs</label>
        <textarea id="sub-events" rows={3} value={slugs} onInput={(e) => setSlugs(e.currentTarget.value)} placeholder={'one per line, e.g.\ncompany/product/*/v1'} />
        <label for="sub-email">Alert email</label>
        <input id="sub-email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} placeholder="optional" />
        <label for="sub-timeout">Timeout (ms)</label>
        <input id="sub-timeout" inputMode="numeric" value={timeout} onInput={(e) => setTimeoutMs(e.currentTarget.value)} placeholder="10000" />
        <label for="sub-attempts">Max attempts</label>
        <input id="sub-attempts" inputMode="numeric" value={maxAttempts} onInput={(e) => setMaxAttempts(e.currentTarget.value)} placeholder="20" />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {existing ? 'Save' : 'Create'}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}
