// The SSRF guard: private and loopback targets refused when a subscriber is saved and again at connect time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LookupAddress } from 'node:dns';
import { Sender } from '../../src/delivery/sender.ts';
import type { Lookup } from '../../src/delivery/ssrf.ts';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

// No DNS server answers on this machine, so names are resolved by this table. `rebind.example` answers with a
// public address the first time (when the subscriber is saved) and with 127.0.0.1 afterwards.
let rebindCalls = 0;
const lookup: Lookup = async (hostname) => {
  const answer = (address: string): LookupAddress[] => [{ address, family: address.includes(':') ? 6 : 4 }];
  if (hostname === 'hooks.example.com') return answer('93.184.216.34');
  if (hostname === 'internal.example.com') return answer('10.1.2.3');
  if (hostname === 'mapped.example.com') return answer('::ffff:7f00:1');
  if (hostname === 'rebind.example') return answer(rebindCalls++ === 0 ? '93.184.216.34' : '127.0.0.1');
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

let hookd: TestApp;
let receiver: Receiver;
beforeAll(async () => {
  hookd = await startTestApp({ allowPrivateNetworks: false }, undefined, { lookup });
  receiver = await startReceiver();
});
afterAll(async () => {
  await hookd.close();
  await receiver.close();
});

const create = (url: string) => hookd.call('POST', hookd.p('/subscriber'), subscriberBody(url));

describe('SSRF guard', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://127.1/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://017700000001/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://0.0.0.0/',
    'http://0/',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[ff02::1]/',
    'http://localhost:8080/',
    'http://LOCALHOST./x',
    'http://api.localhost/',
    'http://internal.example.com/hook',
    'http://mapped.example.com/hook',
  ])('refuses %s when a subscriber is saved (422, naming the setting)', async (url) => {
    const res = await create(url);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_CONFIGURATION', message: expect.stringContaining('HOOKD_ALLOW_PRIVATE_NETWORKS') });
  });

  it('refuses a private URL on replace as well', async () => {
    const ok = await create('https://hooks.example.com/in');
    expect(ok.status).toBe(201);
    const res = await hookd.call('PUT', hookd.p(`/subscriber/${ok.body.id}`), subscriberBody('http://10.0.0.1/'));
    expect(res.status).toBe(422);
    expect((await hookd.call('GET', hookd.p(`/subscriber/${ok.body.id}`))).body.webhook_url).toBe('https://hooks.example.com/in');
  });

  it('accepts public hosts and names that do not resolve yet', async () => {
    expect((await create('https://hooks.example.com/in')).status).toBe(201);
    expect((await create('https://93.184.216.34/in')).status).toBe(201);
    expect((await create('https://not-yet.example.org/in')).status).toBe(201);
  });

  it('refuses at connect time a name that resolves to 127.0.0.1 after it was saved (DNS rebinding)', async () => {
    const port = new URL(receiver.url()).port;
    const created = await create(`http://rebind.example:${port}/rebound`);
    expect(created.status).toBe(201);
    await hookd.call('POST', hookd.p('/company/1/event'), { event_slug: 'company/product/create/v1', payload: {} });
    const delivery = await eventually(async () => {
      const items = (await hookd.call('GET', hookd.p(`/delivery?subscriber_id=${created.body.id}`))).body.items;
      return items[0]?.attempt >= 1 && items[0];
    });
    const detail = (await hookd.call('GET', hookd.p(`/delivery/${delivery.id}`))).body;
    expect(detail.attempts[0]).toMatchObject({ response_code: 0, error: expect.stringMatching(/refused to connect: rebind\.example resolves to 127\.0\.0\.1.*SSRF guard/) });
    expect(receiver.requests.filter((r) => r.path === '/rebound')).toHaveLength(0);
  });

  it('refuses an IP literal at send time even if one got into the store', async () => {
    const sender = new Sender({ allowPrivateNetworks: false });
    const result = await sender.send(receiver.url('/literal'), { 'content-type': 'application/json' }, '{}', 1000);
    await sender.close();
    expect(result).toMatchObject({ responseCode: 0, error: expect.stringMatching(/refused to connect: 127\.0\.0\.1 .*SSRF guard/) });
    expect(receiver.requests.filter((r) => r.path === '/literal')).toHaveLength(0);
  });
});

describe('redirects', () => {
  it('are not followed: a 3xx is a failed attempt', async () => {
    const local = await startTestApp();
    try {
      receiver.on('/moved', () => ({ status: 302, headers: { location: '/elsewhere' } }));
      await local.call('POST', local.p('/subscriber'), subscriberBody(receiver.url('/moved'), { retry_policy: { max_attempts: 1 } }));
      await local.call('POST', local.p('/company/1/event'), { event_slug: 'company/product/create/v1', payload: {} });
      const d = await eventually(async () => (await local.call('GET', local.p('/delivery?status=DISABLED'))).body.items[0]);
      expect(d.response_code).toBe(302);
      expect(receiver.requests.filter((r) => r.path === '/elsewhere')).toHaveLength(0);
    } finally {
      await local.close();
    }
  });
});
