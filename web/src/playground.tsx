// Playground: edit a filter and a reducer as JSON, try them on sample data with validate/filter and
// validate/reducer, and save them to one event of a subscriber (PUT …/filter_reducer).
import { useEffect, useState } from 'preact/hooks';
import { allSubscribers, api, errorText, type Subscriber } from './api.ts';
import { ErrorMessage } from './ui.tsx';

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

const SAMPLE = { id: 42, name: 'running shoe', price: 120, brand: { name: 'Acme', logo: 'https://example.com/acme.png' }, items: [{ sku: 'rs-42-a' }, { sku: 'rs-42-b' }] };
const FILTER = { query: '$.price', condition: '(price) => price > 100' };
const REDUCER = { name: '$.name', brand_name: '$.brand.name', skus: '$.items[*].sku', source: 'hookd' };

type Outcome = { ok: boolean; text: string; result?: unknown } | null;

/** Parses an editor's JSON, naming the editor in the error; an empty editor is null. */
function parse(label: string, text: string): unknown {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${label} is not valid JSON: ${errorText(err)}`);
  }
}

export function Playground() {
  const [subscribers, setSubscribers] = useState<Subscriber[]>([]);
  const [subscriberId, setSubscriberId] = useState('');
  const [slug, setSlug] = useState('');
  const [sample, setSample] = useState(pretty(SAMPLE));
  const [filter, setFilter] = useState(pretty(FILTER));
  const [reducer, setReducer] = useState(pretty(REDUCER));
  const [filterOutcome, setFilterOutcome] = useState<Outcome>(null);
  const [reducerOutcome, setReducerOutcome] = useState<Outcome>(null);
  const [saveOutcome, setSaveOutcome] = useState<Outcome>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    allSubscribers().then(setSubscribers, (err) => setError(errorText(err)));
  }, []);

  const subscriber = subscribers.find((s) => String(s.id) === subscriberId);

  const choose = (id: string, eventSlug: string) => {
    setSubscriberId(id);
    setSlug(eventSlug);
    setSaveOutcome(null);
    // Start from what is saved for that event, when something is.
    const saved = subscribers.find((s) => String(s.id) === id)?.events.find((e) => e.slug === eventSlug);
    if (saved?.filters != null) setFilter(pretty(saved.filters));
    if (saved?.reducer != null) setReducer(pretty(saved.reducer));
  };

  const validateFilter = async () => {
    setFilterOutcome(null);
    try {
      const body = { sample_data: parse('Sample data', sample), filters: parse('The filter', filter) };
      const res = await api<{ success: boolean; message: string; filter_result: boolean }>('POST', '/validate/filter', body);
      setFilterOutcome(
        res.success
          ? { ok: true, text: `${res.message} — filter_result: ${res.filter_result}`, result: res.filter_result }
          : { ok: false, text: res.message },
      );
    } catch (err) {
      setFilterOutcome({ ok: false, text: errorText(err) });
    }
  };

  const validateReducer = async () => {
    setReducerOutcome(null);
    try {
      const body = { sample_data: parse('Sample data', sample), reducer: parse('The reducer', reducer) };
      const res = await api<{ success: boolean; message: string; reducer_result: unknown }>('POST', '/validate/reducer', body);
      setReducerOutcome(res.success ? { ok: true, text: res.message, result: res.reducer_result } : { ok: false, text: res.message });
    } catch (err) {
      setReducerOutcome({ ok: false, text: errorText(err) });
    }
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setSaveOutcome(null);
    if (!subscriber || !slug) {
      setSaveOutcome({ ok: false, text: 'choose a subscriber and one of its events first' });
      return;
    }
    try {
      const body = { event_slug: slug, filter_configuration: parse('The filter', filter), reducer_configuration: parse('The reducer', reducer) };
      const res = await api<{ message: string; data: { filters: unknown; reducer: unknown } }>(
        'PUT',
        `/company/${subscriber.association.company_id}/subscriber/${subscriber.id}/filter_reducer`,
        body,
      );
      setSaveOutcome({ ok: true, text: res.message });
      setSubscribers((list) =>
        list.map((s) => (s.id === subscriber.id ? { ...s, events: s.events.map((ev) => (ev.slug === slug ? { slug, filters: res.data.filters, reducer: res.data.reducer } : ev)) } : s)),
      );
    } catch (err) {
      setSaveOutcome({ ok: false, text: errorText(err) });
    }
  };

  return (
    <section aria-labelledby="pg-title">
      <div class="view-head">
        <h1 id="pg-title" tabIndex={-1}>
          Playground
        </h1>
      </div>
      <ErrorMessage error={error} />
      <div class="playground">
        <div class="card">
          <label for="pg-sample">Sample data (an event payload)</label>
          <textarea id="pg-sample" class="code" rows={16} spellcheck={false} value={sample} onInput={(e) => setSample(e.currentTarget.value)} />
        </div>
        <div class="card">
          <label for="pg-filter">Filter</label>
          <textarea id="pg-filter" class="code" rows={7} spellcheck={false} value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          <div class="actions">
            <button type="button" class="primary" onClick={() => void validateFilter()}>
              Validate filter
            </button>
          </div>
          <Result outcome={filterOutcome} label="Filter result" />
        </div>
        <div class="card">
          <label for="pg-reducer">Reducer</label>
          <textarea id="pg-reducer" class="code" rows={7} spellcheck={false} value={reducer} onInput={(e) => setReducer(e.currentTarget.value)} />
          <div class="actions">
            <button type="button" class="primary" onClick={() => void validateReducer()}>
              Validate reducer
            </button>
          </div>
          <Result outcome={reducerOutcome} label="Reducer result" />
        </div>
      </div>

      <form class="card filters" aria-label="Save to a subscriber" onSubmit={save}>
        <div>
          <label for="pg-subscriber">Subscriber</label>
          <select id="pg-subscriber" value={subscriberId} onChange={(e) => choose(e.currentTarget.value, subscribers.find((s) => String(s.id) === e.currentTarget.value)?.events[0]?.slug ?? '')}>
            <option value="">choose…</option>
            {subscribers.map((s) => (
              <option key={s.id} value={String(s.id)}>
                #{s.id} {s.name} (company {s.association.company_id})
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="pg-slug">Event</label>
          <select id="pg-slug" value={slug} disabled={!subscriber} onChange={(e) => choose(subscriberId, e.currentTarget.value)}>
            {!subscriber && <option value="">—</option>}
            {subscriber?.events.map((ev) => (
              <option key={ev.slug} value={ev.slug}>
                {ev.slug}
                {ev.filters != null || ev.reducer != null ? ' (configured)' : ''}
              </option>
            ))}
          </select>
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Save to subscriber
          </button>
        </div>
        <p class="hint">Saves both editors for that event; an empty editor removes that part. It applies to events published from then on.</p>
      </form>
      <Result outcome={saveOutcome} label="Save" />
    </section>
  );
}

function Result({ outcome, label }: { outcome: Outcome; label: string }) {
  if (!outcome) return null;
  return (
    <div class={`result ${outcome.ok ? 'ok' : 'error'}`} role={outcome.ok ? 'status' : 'alert'} aria-label={label}>
      <p>{outcome.text}</p>
      {outcome.result !== undefined && typeof outcome.result === 'object' && <pre class="body">{pretty(outcome.result)}</pre>}
    </div>
  );
}
