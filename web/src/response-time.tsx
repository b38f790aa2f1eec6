// Response time: the response_time_ts report as a chart by response code, delivery_ts and delivery_summary as
// charts, over a picked date range.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, errorText, query } from './api.ts';
import { Chart, codeColor, type Series } from './chart.tsx';
import { ErrorMessage, formatTime, fromLocalInput, toLocalInput } from './ui.tsx';

interface ResponseTimeItem {
  last_attempted_on: string;
  response_code: number;
  response_time: string;
  attempt: number;
  total: number;
}
interface Counts {
  success: number;
  failed: number;
  removed_webhooks: number;
}
interface Summary {
  delivery_event_level: (Counts & { event: string; failed_percentage: number; total: number; response_time: string | null })[];
  delivery_summary: { success: number; response_time: string | null; failed_percentage: number; removed_webhooks: number };
}
interface Reports {
  rt: ResponseTimeItem[];
  summary: Summary;
  ts: (Counts & { timestamp: string })[];
  range: [number, number];
}

const MIN = 60_000;
const PRESETS = [
  { label: 'Last 15 minutes', ms: 15 * MIN },
  { label: 'Last hour', ms: 60 * MIN },
  { label: 'Last 24 hours', ms: 24 * 60 * MIN },
  { label: 'Last 7 days', ms: 7 * 24 * 60 * MIN },
];

export function ResponseTime() {
  const [range, setRange] = useState<[number, number]>(() => [Date.now() - 60 * MIN, Date.now()]);
  const [preset, setPreset] = useState<number | null>(1);
  const [startDraft, setStartDraft] = useState(toLocalInput(range[0]));
  const [endDraft, setEndDraft] = useState(toLocalInput(range[1]));
  const [interval, setBucketInterval] = useState('');
  const [reports, setReports] = useState<Reports | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async (r: [number, number]) => {
    const q = query({ start_date: new Date(r[0]).toISOString(), end_date: new Date(r[1]).toISOString(), interval });
    try {
      const [rt, summary, ts] = await Promise.all([
        api<{ avg_response_time_ts: ResponseTimeItem[] }>('GET', `/report/response_time_ts${q}`),
        api<Summary>('GET', `/report/delivery_summary${q}`),
        api<{ delivery_ts: Reports['ts'] }>('GET', `/report/delivery_ts${q}`),
      ]);
      setReports({ rt: rt.avg_response_time_ts, summary, ts: ts.delivery_ts, range: r });
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(range), [range, interval]);

  const pickPreset = (i: number) => {
    const r: [number, number] = [Date.now() - PRESETS[i]!.ms, Date.now()];
    setPreset(i);
    setStartDraft(toLocalInput(r[0]));
    setEndDraft(toLocalInput(r[1]));
    setRange(r);
  };

  const apply = (e: Event) => {
    e.preventDefault();
    const start = fromLocalInput(startDraft);
    const end = fromLocalInput(endDraft);
    if (!start || !end) {
      setError('pick both a start and an end');
      return;
    }
    setPreset(null);
    setRange([Date.parse(start), Date.parse(end)]);
  };

  return (
    <section aria-labelledby="rt-title">
      <div class="view-head">
        <h1 id="rt-title" tabIndex={-1}>
          Response time
        </h1>
        <button type="button" onClick={() => (preset === null ? void load(range) : pickPreset(preset))}>
          Refresh
        </button>
      </div>
      <form class="filters" aria-label="Date range" onSubmit={apply}>
        <div class="actions presets" role="group" aria-label="Quick ranges">
          {PRESETS.map((p, i) => (
            <button type="button" key={p.label} aria-pressed={preset === i} onClick={() => pickPreset(i)}>
              {p.label}
            </button>
          ))}
        </div>
        <div>
          <label for="rt-start">From</label>
          <input id="rt-start" type="datetime-local" value={startDraft} onInput={(e) => setStartDraft(e.currentTarget.value)} />
        </div>
        <div>
          <label for="rt-end">To</label>
          <input id="rt-end" type="datetime-local" value={endDraft} onInput={(e) => setEndDraft(e.currentTarget.value)} />
        </div>
        <div>
          <label for="rt-interval">Interval</label>
          <select id="rt-interval" value={interval} onChange={(e) => setBucketInterval(e.currentTarget.value)}>
            <option value="">automatic</option>
            <option value="minute">minute</option>
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Show
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {reports && <ReportCharts reports={reports} />}
    </section>
  );
}

function ReportCharts({ reports }: { reports: Reports }) {
  const range: [number, number] = [reports.range[0] / 1000, reports.range[1] / 1000];

  const byCode = useMemo(() => {
    const xs = [...new Set(reports.rt.map((i) => Date.parse(i.last_attempted_on) / 1000))].sort((a, b) => a - b);
    const codes = [...new Set(reports.rt.map((i) => i.response_code))].sort((a, b) => a - b);
    const perClass = new Map<string, number>();
    const series: Series[] = codes.map((code) => {
      const cls = code === 0 ? '0' : String(code)[0]!;
      const nth = perClass.get(cls) ?? 0;
      perClass.set(cls, nth + 1);
      const values = xs.map((x) => {
        const item = reports.rt.find((i) => i.response_code === code && Date.parse(i.last_attempted_on) / 1000 === x);
        return item ? Number(item.response_time) : null;
      });
      return { label: code === 0 ? 'no response' : String(code), color: codeColor(code, nth), values };
    });
    return { xs, series };
  }, [reports]);

  const counts = useMemo(() => {
    const xs = reports.ts.map((b) => Date.parse(b.timestamp) / 1000);
    const series: Series[] = [
      { label: 'success', color: '#1a7f37', values: reports.ts.map((b) => b.success) },
      { label: 'failed', color: '#cf222e', values: reports.ts.map((b) => b.failed) },
      { label: 'removed', color: '#6e7781', values: reports.ts.map((b) => b.removed_webhooks) },
    ];
    return { xs, series };
  }, [reports]);

  const s = reports.summary.delivery_summary;
  const maxTotal = Math.max(1, ...reports.summary.delivery_event_level.map((e) => e.total));
  return (
    <>
      <div class="tiles" aria-label="Summary of the range">
        <div class="tile">
          <span class="tile-label">Delivered</span>
          <span class="tile-value" data-testid="summary-success">
            {s.success}
          </span>
        </div>
        <div class="tile">
          <span class="tile-label">Failed</span>
          <span class="tile-value">{s.failed_percentage.toFixed(2)} %</span>
        </div>
        <div class="tile">
          <span class="tile-label">Mean response time</span>
          <span class="tile-value">{s.response_time === null ? '—' : `${s.response_time} ms`}</span>
        </div>
        <div class="tile">
          <span class="tile-label">Removed</span>
          <span class="tile-value">{s.removed_webhooks}</span>
        </div>
      </div>

      <Chart title="Mean response time by response code (ms)" xs={byCode.xs} series={byCode.series} range={range} yLabel="ms">
        {reports.rt.length === 0 && <p class="muted">No attempts in this range.</p>}
        {reports.rt.length > 0 && (
          <details>
            <summary>Data</summary>
            <table>
              <thead>
                <tr>
                  <th scope="col">Bucket</th>
                  <th scope="col" class="num">
                    Code
                  </th>
                  <th scope="col" class="num">
                    Mean (ms)
                  </th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col" class="num">
                    Deliveries
                  </th>
                </tr>
              </thead>
              <tbody>
                {reports.rt.map((i) => (
                  <tr key={i.last_attempted_on + i.response_code}>
                    <td>{formatTime(i.last_attempted_on)}</td>
                    <td class="num">{i.response_code}</td>
                    <td class="num">{i.response_time}</td>
                    <td class="num">{i.attempt}</td>
                    <td class="num">{i.total}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        )}
      </Chart>

      <Chart title="Deliveries created per interval, by outcome" xs={counts.xs} series={counts.series} range={range} yLabel="deliveries" height={220} />

      <figure class="card chart-card">
        <figcaption>Deliveries by event</figcaption>
        {reports.summary.delivery_event_level.length === 0 && <p class="muted">No deliveries in this range.</p>}
        {reports.summary.delivery_event_level.length > 0 && (
          <table class="summary">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Outcomes</th>
                <th scope="col" class="num">
                  Success
                </th>
                <th scope="col" class="num">
                  Failed
                </th>
                <th scope="col" class="num">
                  Removed
                </th>
                <th scope="col" class="num">
                  Total
                </th>
                <th scope="col" class="num">
                  Mean time
                </th>
              </tr>
            </thead>
            <tbody>
              {reports.summary.delivery_event_level.map((e) => {
                const other = e.total - e.success - e.failed - e.removed_webhooks;
                const w = (n: number) => `${(n / maxTotal) * 100}%`;
                return (
                  <tr key={e.event}>
                    <td>
                      <code>{e.event}</code>
                    </td>
                    <td class="bar-cell" aria-hidden="true">
                      <div class="hbar">
                        <span class="seg success" style={{ width: w(e.success) }} />
                        <span class="seg failed" style={{ width: w(e.failed) }} />
                        <span class="seg removed" style={{ width: w(e.removed_webhooks) }} />
                        <span class="seg other" style={{ width: w(other) }} />
                      </div>
                    </td>
                    <td class="num">{e.success}</td>
                    <td class="num">
                      {e.failed} <span class="muted small">({e.failed_percentage} %)</span>
                    </td>
                    <td class="num">{e.removed_webhooks}</td>
                    <td class="num">{e.total}</td>
                    <td class="num nowrap">{e.response_time === null ? '—' : `${e.response_time} ms`}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <p class="legend small">
          <span class="key success" /> success <span class="key failed" /> failed <span class="key removed" /> removed <span class="key other" /> pending or
          filter error
        </p>
      </figure>
    </>
  );
}
