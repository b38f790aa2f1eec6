// The shell: header with the connection (organization / extension / key), navigation, and the current view.
// Views are addressed by path (/subscribers, /deliveries, /response-time, /playground); hookd answers every
// such path with index.html, so a reload or a shared link opens the same view.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, loadConnection, saveConnection, type Connection } from './api.ts';
import { Deliveries } from './deliveries.tsx';
import { Playground } from './playground.tsx';
import { ResponseTime } from './response-time.tsx';
import { Subscribers } from './subscribers.tsx';
import { ErrorMessage, Link } from './ui.tsx';

const VIEWS = [
  { path: '/subscribers', label: 'Subscribers', view: Subscribers },
  { path: '/deliveries', label: 'Deliveries', view: Deliveries },
  { path: '/response-time', label: 'Response time', view: ResponseTime },
  { path: '/playground', label: 'Playground', view: Playground },
] as const;

function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  return path;
}

function ConnectionForm({ initial, onDone, onCancel }: { initial: Connection | null; onDone: (c: Connection) => void; onCancel?: () => void }) {
  const [organization, setOrganization] = useState(initial?.organization ?? 'my-org');
  const [extension, setExtension] = useState(initial?.extension ?? 'my-ext');
  const [key, setKey] = useState(initial?.key ?? '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const id = /^[A-Za-z0-9_-]{1,64}$/;
    if (!id.test(organization) || !id.test(extension)) {
      setError('organization and extension ids are 1 to 64 letters, digits, "_" or "-"');
      return;
    }
    const c = { organization, extension, key: key.trim() };
    saveConnection(c);
    setBusy(true);
    try {
      await api('GET', '/subscriber?page_size=1');
      onDone(c);
    } catch (err) {
      // A wrong key is worth fixing here; anything else (server down…) the views report themselves.
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setError(errorText(err));
      else onDone(c);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card connection" aria-labelledby="connection-title">
      <h1 id="connection-title">Connect to hookd</h1>
      <p class="hint">
        Entered once: the ids are remembered in this browser, the key only for this tab's session. Leave the key empty while
        the server runs in open development mode.
      </p>
      <form onSubmit={submit} class="form-grid">
        <label for="conn-org">Organization id</label>
        <input id="conn-org" value={organization} onInput={(e) => setOrganization(e.currentTarget.value)} autocomplete="off" />
        <label for="conn-ext">Extension id</label>
        <input id="conn-ext" value={extension} onInput={(e) => setExtension(e.currentTarget.value)} autocomplete="off" />
        <label for="conn-key">API key</label>
        <input id="conn-key" type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} autocomplete="off" placeholder="none (open development mode)" />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Connect
          </button>
          {onCancel && (
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}

export function App() {
  const [connection, setConnection] = useState<Connection | null>(loadConnection);
  const [editing, setEditing] = useState(false);
  const path = usePath();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  const current = VIEWS.find((v) => v.path === path) ?? (path === '/' ? VIEWS[0] : undefined);

  useEffect(() => {
    document.title = `${current?.label ?? 'Not found'} · hookd`;
    // After a navigation, put keyboard focus at the start of the new view.
    if (first.current) first.current = false;
    else main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [path]);

  const showForm = !connection || editing;
  const View = current?.view;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">hookd</span>
        <nav aria-label="Dashboard">
          <ul>
            {VIEWS.map((v) => (
              <li key={v.path}>
                <Link href={v.path} aria-current={v === current ? 'page' : undefined}>
                  {v.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {connection && (
          <div class="tenant">
            <span title="organization / extension">
              <span class="muted">org</span> <strong data-testid="organization">{connection.organization}</strong> <span class="muted">ext</span>{' '}
              <strong data-testid="extension">{connection.extension}</strong>
            </span>
            <span class="muted">{connection.key ? 'API key set' : 'no key'}</span>
            <button type="button" onClick={() => setEditing(true)}>
              Change
            </button>
          </div>
        )}
      </header>
      <main id="main" ref={main}>
        {showForm ? (
          <ConnectionForm
            initial={connection}
            onDone={(c) => {
              setConnection(c);
              setEditing(false);
            }}
            onCancel={connection ? () => setEditing(false) : undefined}
          />
        ) : View ? (
          <View key={`${connection.organization}/${connection.extension}/${connection.key}`} />
        ) : (
          <section>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              There is no dashboard page at {path}. <Link href="/subscribers">Go to Subscribers</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
