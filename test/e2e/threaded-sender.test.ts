// The sending thread against a real receiver: results come back to the right caller, time-outs and network errors
// are results (not exceptions), and shutting down fails what is still pending instead of leaving it hanging.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ThreadedSender } from '../../src/delivery/threaded-sender.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

let receiver: Receiver;
let sender: ThreadedSender;
beforeEach(async () => {
  receiver = await startReceiver();
  sender = new ThreadedSender({ allowPrivateNetworks: true });
});
afterEach(async () => {
  await sender.close();
  await receiver.close();
});

describe('ThreadedSender', () => {
  it('sends many requests at once and hands each caller its own answer', async () => {
    receiver.on('/echo', (req) => ({ status: 200 + (Number(req.json.n) % 3), body: `n=${req.json.n}`, headers: { 'retry-after': '7' } }));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, n) =>
        sender.send(receiver.url('/echo'), { 'content-type': 'application/json', 'x-n': String(n) }, JSON.stringify({ n }), 5000),
      ),
    );
    results.forEach((r, n) => {
      expect(r).toMatchObject({ responseCode: 200 + (n % 3), responseBody: `n=${n}`, retryAfter: '7', error: null });
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
    });
    expect(receiver.requests.map((r) => r.headers['x-n']).sort()).toEqual(Array.from({ length: 200 }, (_, n) => String(n)).sort());
  });

  it('reports a time-out and a refused connection as results', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    const [hung, refused] = await Promise.all([
      sender.send(receiver.url('/hang'), {}, '{}', 200),
      sender.send('http://127.0.0.1:9/nothing-listens', {}, '{}', 2000),
    ]);
    expect(hung).toMatchObject({ responseCode: 0, error: 'timed out after 200 ms' });
    expect(refused.responseCode).toBe(0);
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });

  it('keeps the SSRF guard in the thread', async () => {
    const guarded = new ThreadedSender({ allowPrivateNetworks: false });
    try {
      const r = await guarded.send(receiver.url('/x'), {}, '{}', 2000);
      expect(r.responseCode).toBe(0);
      expect(r.error).toMatch(/SSRF guard/);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await guarded.close();
    }
  });

  it('fails pending sends when it shuts down, and refuses new ones', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    const pending = sender.send(receiver.url('/hang'), {}, '{}', 30_000);
    await receiver.waitFor(1, '/hang');
    await sender.close();
    expect(await pending).toMatchObject({ responseCode: 0, error: 'the sender is shut down' });
    expect(await sender.send(receiver.url('/hang'), {}, '{}', 1000)).toMatchObject({ responseCode: 0, error: 'the sender is shut down' });
  });
});
