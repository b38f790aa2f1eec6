// Reports end to end: real attempts against a real receiver, then the report figures checked against the attempt
// log the test reads back itself; the delivery listing's CSV download checked against its JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

interface Attempt {
  attempt: number;
  attempted_on: string;
  response_code: number;
  response_time: number;
}
interface Delivery {
  id: number;
  subscriber_id: number;
  company_id: number;
  event_slug: string;
  status: string;
  attempts: Attempt[];
}
interface Item {
  last_attempted_on: string;
  response_code: number;
  response_time: string;
  attempt: number;
  total: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const SLUG = 'company/product/create/v1';

let hookd: TestApp;
let receiver: Receiver;
let start: string;
let end: string;
let deliveries: Delivery[];
const subscribers: Record<'ok' | 'flaky' | 'hang', number> = { ok: 0, flaky: 0, hang: 0 };

beforeAll(async () => {
  hookd = await startTestApp();
  receiver = await startReceiver();
  receiver.on('/ok', () => ({ status: 200, delayMs: 30 }));
  // Every other request fails, so each delivery ends in SUCCESS after one or more 500s.
  receiver.on('/flaky', (_r, nth) => (nth % 2 === 1 ? { status: 500, delayMs: 10, body: 'boom' } : { status: 200, delayMs: 20 }));
  receiver.on('/hang', () => ({ hang: true }));

  const subscribe = async (path: string, overrides: Record<string, unknown> = {}) => {
    const res = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url(path), overrides));
    expect(res.status).toBe(201);
    return res.body.id as number;
  };
  subscribers.ok = await subscribe('/ok');
  subscribers.flaky = await subscribe('/flaky', { retry_policy: { max_attempts: 10, initial_backoff_ms: 100, max_backoff_ms: 200 } });
  // Company 2, time-out after 200 ms, one attempt: a response code 0, then DISABLED.
  subscribers.hang = await subscribe('/hang', {
    association: { company_id: 2, criteria: 'ALL' },
    timeout_ms: 200,
    retry_policy: { max_attempts: 1 },
  });

  start = new Date(Date.now() - 1000).toISOString();
  for (let i = 0; i < 3; i++) {
    expect((await hookd.call('POST', hookd.p('/company/1/event'), { event_slug: SLUG, payload: { n: i } })).status).toBe(202);
  }
  expect((await hookd.call('POST', hookd.p('/company/2/event'), { event_slug: SLUG, payload: { n: 9 } })).status).toBe(202);

  const list = await eventually(async () => {
    const body = (await hookd.call('GET', hookd.p('/delivery?page_size=100'))).body;
    return body.items.length === 7 && body.items.every((d: Delivery) => d.status === 'SUCCESS' || d.status === 'DISABLED') && body;
  }, 20_000);
  deliveries = [];
  for (const d of list.items as Delivery[]) deliveries.push((await hookd.call('GET', hookd.p(`/delivery/${d.id}`))).body);
  end = new Date(Date.now() + 1000).toISOString();
});

afterAll(async () => {
  await hookd?.close();
  await receiver?.close();
});

/** What response_time_ts must say, computed from the attempt log read back through GET P/delivery/{id}. */
function expectedItems(size: number, keep: (d: Delivery) => boolean = () => true) {
  const groups = new Map<string, { bucket: number; code: number; times: number[]; deliveries: Set<number> }>();
  for (const d of deliveries.filter(keep)) {
    for (const a of d.attempts) {
      const at = Date.parse(a.attempted_on);
      const bucket = at - (at % size);
      const key = `${bucket}/${a.response_code}`;
      const g = groups.get(key) ?? { bucket, code: a.response_code, times: [], deliveries: new Set<number>() };
      g.times.push(a.response_time);
      g.deliveries.add(d.id);
      groups.set(key, g);
    }
  }
  return [...groups.values()]
    .sort((x, y) => x.bucket - y.bucket || x.code - y.code)
    .map((g) => ({
      last_attempted_on: new Date(g.bucket).toISOString(),
      response_code: g.code,
      mean: g.times.reduce((s, t) => s + t, 0) / g.times.length,
      attempt: g.times.length,
      total: g.deliveries.size,
    }));
}

function expectMatches(items: Item[], expected: ReturnType<typeof expectedItems>) {
  expect(items.map(({ response_time: _t, ...rest }) => rest)).toEqual(expected.map(({ mean: _m, ...rest }) => rest));
  items.forEach((item, i) => {
    expect(item.response_time).toMatch(/^\d+\.\d{2}$/);
    expect(Math.abs(Number(item.response_time) - expected[i]!.mean)).toBeLessThanOrEqual(0.0051);
  });
}

const report = (name: string, query: string) => hookd.call('GET', hookd.p(`/report/${name}?${query}`));
const range = () => `start_date=${start}&end_date=${end}`;

describe('response_time_ts', () => {
  it('counts, codes and means match the attempts the test made', async () => {
    const attempts = deliveries.flatMap((d) => d.attempts);
    // The receiver saw exactly the attempts the log holds: 200s, 500s and one time-out (code 0).
    expect(attempts).toHaveLength(receiver.requests.length);
    expect(new Set(attempts.map((a) => a.response_code))).toEqual(new Set([0, 200, 500]));

    const res = await report('response_time_ts', `${range()}&interval=minute`);
    expect(res.status).toBe(200);
    expectMatches(res.body.avg_response_time_ts, expectedItems(MINUTE));
    const sum = (code: number) =>
      (res.body.avg_response_time_ts as Item[]).filter((i) => i.response_code === code).reduce((s, i) => s + i.attempt, 0);
    expect(sum(200)).toBe(6);
    expect(sum(0)).toBe(1);
    expect(sum(500)).toBe(attempts.filter((a) => a.response_code === 500).length);
    // The receiver's delays and the 200 ms time-out show in the means.
    for (const item of res.body.avg_response_time_ts as Item[]) {
      if (item.response_code === 0) expect(Number(item.response_time)).toBeGreaterThanOrEqual(190);
      if (item.response_code === 200) expect(Number(item.response_time)).toBeGreaterThanOrEqual(15);
    }
  });

  it('picks minute buckets by default for a short range, and takes day buckets on request', async () => {
    const byDefault = await report('response_time_ts', range());
    expect(byDefault.status).toBe(200);
    expectMatches(byDefault.body.avg_response_time_ts, expectedItems(MINUTE));
    const days = await report('response_time_ts', `${range()}&interval=day`);
    expectMatches(days.body.avg_response_time_ts, expectedItems(DAY));
  });

  it('narrows to a company or a subscriber', async () => {
    const company2 = await report('response_time_ts', `${range()}&company_id=2`);
    expectMatches(company2.body.avg_response_time_ts, expectedItems(MINUTE, (d) => d.company_id === 2));
    expect(company2.body.avg_response_time_ts.map((i: Item) => [i.response_code, i.attempt, i.total])).toEqual([[0, 1, 1]]);
    const flaky = await report('response_time_ts', `${range()}&subscriber_id=${subscribers.flaky}`);
    expectMatches(flaky.body.avg_response_time_ts, expectedItems(MINUTE, (d) => d.subscriber_id === subscribers.flaky));
    const elsewhere = await hookd.call('GET', `/service/partner/webhook/v1.0/organization/org_2/extension/ext_1/report/response_time_ts?${range()}`);
    expect(elsewhere.body).toEqual({ avg_response_time_ts: [] });
  });

  it('answers 400 for missing or reversed dates and for too many buckets', async () => {
    for (const [name, query, field] of [
      ['response_time_ts', `end_date=${end}`, 'start_date'],
      ['response_time_ts', `start_date=${start}`, 'end_date'],
      ['delivery_summary', `end_date=${end}`, 'start_date'],
      ['delivery_ts', `start_date=${start}`, 'end_date'],
      ['response_time_ts', `start_date=${start}&end_date=yesterday`, 'end_date'],
    ] as const) {
      const res = await report(name, query);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
      expect(res.body.message).toContain(field);
    }
    for (const name of ['response_time_ts', 'delivery_summary', 'delivery_ts']) {
      const reversed = await report(name, `start_date=${end}&end_date=${start}`);
      expect(reversed.status).toBe(400);
      expect(reversed.body.message).toContain('end_date');
    }
    const tooMany = await report('response_time_ts', 'start_date=2026-01-01T00:00:00Z&end_date=2026-03-01T00:00:00Z&interval=minute');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toContain('interval');
    expect((await report('response_time_ts', `${range()}&interval=week`)).status).toBe(400);
    // The seed's example: one instant.
    expect((await report('response_time_ts', 'start_date=2023-11-01T03:02:51Z&end_date=2023-11-01T03:02:51Z')).body).toEqual({ avg_response_time_ts: [] });
  });
});

describe('delivery_summary and delivery_ts', () => {
  it('count the deliveries as the listing shows them', async () => {
    const count = (...statuses: string[]) => deliveries.filter((d) => statuses.includes(d.status)).length;
    const attempts = deliveries.flatMap((d) => d.attempts);
    const mean = attempts.reduce((s, a) => s + a.response_time, 0) / attempts.length;

    const summary = (await report('delivery_summary', range())).body;
    expect(summary.delivery_event_level).toHaveLength(1);
    const [level] = summary.delivery_event_level;
    expect(level).toMatchObject({ event: SLUG, success: count('SUCCESS'), failed: count('FAILED', 'DISABLED'), removed_webhooks: 0, total: 7 });
    expect(level.success).toBe(6);
    expect(level.failed_percentage).toBe(Math.round((1 / 7) * 10_000) / 100);
    expect(Math.abs(Number(level.response_time) - mean)).toBeLessThanOrEqual(0.0051);
    expect(summary.delivery_summary).toEqual({
      success: level.success,
      response_time: level.response_time,
      failed_percentage: level.failed_percentage,
      removed_webhooks: 0,
    });

    const ts = (await report('delivery_ts', `${range()}&interval=minute`)).body.delivery_ts as { timestamp: string; success: number; failed: number }[];
    const first = Date.parse(start) - (Date.parse(start) % MINUTE);
    expect(ts[0]!.timestamp).toBe(new Date(first).toISOString());
    ts.forEach((b, i) => expect(b.timestamp).toBe(new Date(first + i * MINUTE).toISOString()));
    expect(ts.reduce((s, b) => s + b.success, 0)).toBe(6);
    expect(ts.reduce((s, b) => s + b.failed, 0)).toBe(1);
  });
});

/** RFC 4180: fields separated by commas, records by CRLF, quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) row.push(field), rows.push(row);
  return rows;
}

describe('GET P/delivery?format=csv', () => {
  const asCsvFields = (item: Record<string, unknown>) => Object.values(item).map((v) => (v === null ? '' : String(v)));

  it('downloads the same rows as the JSON listing, with a header row', async () => {
    const json = (await hookd.call('GET', hookd.p('/delivery?page_size=100'))).body;
    const res = await hookd.call('GET', hookd.p('/delivery?page_size=100&format=csv'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="deliveries.csv"');
    expect(res.body.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(res.body);
    expect(header).toEqual(Object.keys(json.items[0]));
    expect(header).toEqual([
      'id', 'event_id', 'event_slug', 'subscriber_id', 'company_id', 'status', 'attempt', 'response_code', 'response_time',
      'last_attempted_on', 'next_attempt_on', 'created_on',
    ]);
    expect(rows).toEqual(json.items.map(asCsvFields));
    expect(rows).toHaveLength(7);
  });

  it('applies the same filters and paging', async () => {
    const query = `subscriber_id=${subscribers.flaky}&status=SUCCESS&page_size=2&page_no=2`;
    const json = (await hookd.call('GET', hookd.p(`/delivery?${query}`))).body;
    expect(json.items).toHaveLength(1);
    const csv = parseCsv((await hookd.call('GET', hookd.p(`/delivery?${query}&format=csv`))).body);
    expect(csv.slice(1)).toEqual(json.items.map(asCsvFields));
    const none = parseCsv((await hookd.call('GET', hookd.p('/delivery?status=RESYNC&format=csv'))).body);
    expect(none).toHaveLength(1);
    expect((await hookd.call('GET', hookd.p('/delivery?format=xml'))).status).toBe(400);
  });

  it('is described in the OpenAPI document, with the report routes', async () => {
    const openapi = (await hookd.call('GET', '/openapi.json')).body;
    const base = '/service/partner/webhook/v1.0/organization/{organization_id}/extension/{extension_id}';
    for (const name of ['response_time_ts', 'delivery_summary', 'delivery_ts']) {
      expect(openapi.paths[`${base}/report/${name}`].get.summary).toBeTruthy();
    }
    expect(Object.keys(openapi.paths[`${base}/delivery`].get.responses['200'].content)).toEqual(['application/json', 'text/csv']);
  });
});
