// The sending thread against a real receiver: requests are signed in the thread, results come back to the right
// caller, time-outs and network errors are results (not exceptions), and shutting down fails what is still pending.
import { Webhook } from 'standardwebhooks';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SendResult, SignedRequest } from '../../src/delivery/sender.ts';
import { JOB_WIDTH, ThreadedSender, type SendBatch } from '../../src/delivery/threaded-sender.ts';
import { signingContext, type SigningContext } from '../../src/delivery/request.ts';
import { Renewal } from '../../src/renewal.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const SECRET = 'whsec_' + Buffer.from('a thread-safe secret of 32 bytes').toString('base64');
const secretOf = (i: number): string => 'whsec_' + Buffer.from(`subscriber ${i}'s secret, 32 bytes`.padEnd(32, '.')).toString('base64');

/** The request's Standard Webhooks signature checked with `secret`: its body when valid, otherwise it throws. */
const verified = (got: Receiver['requests'][number], secret: string): unknown =>
  new Webhook(secret).verify(got.body, {
    'webhook-id': String(got.headers['webhook-id']),
    'webhook-timestamp': String(got.headers['webhook-timestamp']),
    'webhook-signature': String(got.headers['webhook-signature']),
  });

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

const contextFor = (secret: string, n: number): SigningContext =>
  signingContext({ auth_meta: { type: 'hmac', secret }, custom_headers: { 'x-n': String(n) } } as never);

function request(url: string, n = 0, timeoutMs = 5000, signing = contextFor(SECRET, n)): SignedRequest {
  return {
    url,
    signing,
    eventId: `evt_thread_${n}`,
    body: JSON.stringify({ n }),
    userAgent: 'hookd/test',
    attemptedAt: Date.now(),
    timeoutMs,
  };
}

describe('ThreadedSender', () => {
  it('signs and sends many requests at once and hands each caller its own answer', async () => {
    receiver.on('/echo', (req) => ({ status: 200 + (Number(req.json.n) % 3), body: `n=${req.json.n}`, headers: { 'retry-after': '7' } }));
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => sender.deliver(request(receiver.url('/echo'), n))));
    results.forEach((r, n) => {
      expect(r).toMatchObject({ responseCode: 200 + (n % 3), responseBody: `n=${n}`, retryAfter: '7', error: null });
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
    });
    expect(receiver.requests.map((r) => r.headers['x-n']).sort()).toEqual(Array.from({ length: 200 }, (_, n) => String(n)).sort());
    for (const got of receiver.requests) {
      expect(got.headers['webhook-id']).toBe(`evt_thread_${got.json.n}`);
      expect(got.headers['user-agent']).toBe('hookd/test');
      expect(verified(got, SECRET)).toEqual({ n: got.json.n });
    }
  });

  it('hands each caller its own answer when the map of pending attempts is copied at every batch', async () => {
    const renewing = new ThreadedSender({ allowPrivateNetworks: true }, 10_000, new Renewal(0));
    try {
      receiver.on('/echo', (req) => ({ status: 200, body: `n=${req.json.n}` }));
      const results: SendResult[] = [];
      const maps = new Set<object>();
      // Waves, so that several batches cross and each renews the map while the earlier ones are still pending.
      const waves = Array.from({ length: 5 }, async (_, wave) => {
        await new Promise((resolve) => setTimeout(resolve, wave * 5));
        const answers = Array.from({ length: 40 }, (_, i) => renewing.deliver(request(receiver.url('/echo'), wave * 40 + i)));
        await Promise.resolve(); // the batch is posted, and the map copied, in a microtask
        maps.add((renewing as unknown as { pending: object }).pending);
        const sent = await Promise.all(answers);
        sent.forEach((r, i) => (results[wave * 40 + i] = r));
      });
      await Promise.all(waves);
      results.forEach((r, n) => expect(r).toMatchObject({ responseCode: 200, responseBody: `n=${n}` }));
      expect(results).toHaveLength(200);
      expect(maps.size).toBeGreaterThan(1); // copied indeed: a new map after the first batches
    } finally {
      await renewing.close();
    }
  });

  it('signs each job with its own subscriber\'s keys, a context sent once and reused, also after the thread forgot them all', async () => {
    // Three contexts kept: the six subscribers below make the thread forget them twice.
    const forgetful = new ThreadedSender({ allowPrivateNetworks: true }, 3);
    try {
      receiver.on('/s', () => ({ status: 200 }));
      const contexts = Array.from({ length: 6 }, (_, i) => contextFor(secretOf(i), i));
      for (let round = 0; round < 3; round++) {
        // Every subscriber at once, then each alone: contexts cross in one batch and in batches of their own.
        await Promise.all(contexts.map((c, i) => forgetful.deliver(request(receiver.url('/s'), i, 5000, c))));
        for (const [i, c] of contexts.entries()) await forgetful.deliver(request(receiver.url('/s'), i, 5000, c));
      }
      expect(receiver.requests).toHaveLength(36);
      for (const got of receiver.requests) expect(verified(got, secretOf(Number(got.json.n)))).toEqual({ n: got.json.n });
    } finally {
      await forgetful.close();
    }
  });

  it('hands back, across the thread, an attempt that could not start by its sendBy as unsent', async () => {
    const one = new ThreadedSender({ allowPrivateNetworks: true, maxActive: 1 });
    try {
      receiver.on('/slow', () => ({ status: 200, body: 'late', delayMs: 300 }));
      const first = one.deliver(request(receiver.url('/slow'), 0));
      const late = one.deliver({ ...request(receiver.url('/slow'), 1), sendBy: Date.now() + 100 });
      expect(await late).toEqual({
        responseCode: 0, durationMs: 0, responseBody: null, error: 'not sent: no connection slot came free in time',
        retryAfter: undefined, unsent: true,
      });
      expect(await first).toMatchObject({ responseCode: 200, responseBody: 'late', error: null });
      expect((await first).unsent).toBeUndefined();
      expect(receiver.requests.map((r) => r.json.n)).toEqual([0]);
    } finally {
      await one.close();
    }
  });

  it('hands a lone attempt\'s result back at once, however long results may wait for each other under load', async () => {
    const paced = new ThreadedSender({ allowPrivateNetworks: true, replyEveryMs: 60_000 });
    try {
      receiver.on('/ok', () => ({ status: 204 }));
      expect(await paced.deliver(request(receiver.url('/ok'), 0))).toMatchObject({ responseCode: 204, error: null });
    } finally {
      await paced.close();
    }
  });

  it('holds a result back while other attempts are pending, and sends it with the last of them', async () => {
    const paced = new ThreadedSender({ allowPrivateNetworks: true, replyEveryMs: 60_000 });
    try {
      receiver.on('/fast', () => ({ status: 200, body: 'fast' }));
      receiver.on('/slow', () => ({ status: 200, body: 'slow', delayMs: 300 }));
      const started = Date.now();
      const slow = paced.deliver(request(receiver.url('/slow'), 0));
      const fast = await paced.deliver(request(receiver.url('/fast'), 1));
      const fastBackAfter = Date.now() - started;
      expect(fast).toMatchObject({ responseCode: 200, responseBody: 'fast' });
      expect(fast.durationMs).toBeLessThan(250);
      // Answered within a few ms, handed back only with the slow one's result.
      expect(fastBackAfter).toBeGreaterThanOrEqual(290);
      expect(await slow).toMatchObject({ responseCode: 200, responseBody: 'slow' });
    } finally {
      await paced.close();
    }
  });

  it('reports a time-out and a refused connection as results', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    const [hung, refused] = await Promise.all([
      sender.deliver(request(receiver.url('/hang'), 0, 200)),
      sender.deliver(request('http://127.0.0.1:9/nothing-listens', 1, 2000)),
    ]);
    expect(hung).toMatchObject({ responseCode: 0, error: 'timed out after 200 ms' });
    expect(refused.responseCode).toBe(0);
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });

  it('keeps the SSRF guard in the thread', async () => {
    const guarded = new ThreadedSender({ allowPrivateNetworks: false });
    try {
      const r = await guarded.deliver(request(receiver.url('/x')));
      expect(r.responseCode).toBe(0);
      expect(r.error).toMatch(/SSRF guard/);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await guarded.close();
    }
  });

  it('fails what a thread that died was sending, and starts a new thread for the next send', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    receiver.on('/ok', () => ({ status: 204 }));
    const pending = sender.deliver(request(receiver.url('/hang'), 0, 30_000));
    await receiver.waitFor(1, '/hang');
    await (sender as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate(); // as if it crashed
    expect(await pending).toMatchObject({ responseCode: 0, error: 'the sending thread stopped unexpectedly' });
    expect(await sender.deliver(request(receiver.url('/ok'), 1))).toMatchObject({ responseCode: 204, error: null });
  });

  it('sends what an answer\'s callback sends at once after its thread died, to the next thread', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    receiver.on('/ok', () => ({ status: 204 }));
    const again = new Promise<SendResult>((resolve) => {
      sender.deliverThen(request(receiver.url('/hang'), 0, 30_000), (failed) => {
        expect(failed.error).toBe('the sending thread stopped unexpectedly');
        // As the dispatcher does: the slot is free, so the next delivery goes out from within the callback.
        sender.deliverThen(request(receiver.url('/ok'), 1), resolve);
      });
    });
    await receiver.waitFor(1, '/hang');
    await (sender as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate(); // as if it crashed
    expect(await again).toMatchObject({ responseCode: 204, error: null });
  });

  it('sends each subscriber\'s signing context to the thread once, however many jobs and batches name it', async () => {
    receiver.on('/s', () => ({ status: 200 }));
    const posted = vi.spyOn(Worker.prototype, 'postMessage');
    try {
      const contexts = [contextFor(secretOf(0), 0), contextFor(secretOf(1), 1)];
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 10 }, (_, n) => sender.deliver(request(receiver.url('/s'), n % 2, 5000, contexts[n % 2]))));
      }
      const batches = posted.mock.calls.map(([batch]) => batch as SendBatch);
      expect(batches.length).toBeGreaterThanOrEqual(5);
      expect(batches.flatMap((b) => b.jobs)).toHaveLength(50 * JOB_WIDTH);
      expect(batches.flatMap((b) => b.contexts).map(([id]) => id)).toEqual([0, 1]);
    } finally {
      posted.mockRestore();
    }
  });

  it('sends a subscriber\'s keys again to a thread started after one died', async () => {
    receiver.on('/ok', () => ({ status: 204 }));
    const signing = contextFor(SECRET, 7);
    expect(await sender.deliver(request(receiver.url('/ok'), 7, 5000, signing))).toMatchObject({ responseCode: 204 });
    await (sender as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    expect(await sender.deliver(request(receiver.url('/ok'), 7, 5000, signing))).toMatchObject({ responseCode: 204, error: null });
    expect(receiver.requests).toHaveLength(2);
    for (const got of receiver.requests) expect(verified(got, SECRET)).toEqual({ n: 7 });
  });

  it('boots its thread when asked, loaded by the time boot() resolves, and sends the first attempts through it', async () => {
    expect(sender.threadId).toBeUndefined();
    await sender.boot();
    const booted = sender.threadId;
    expect(booted).toBeGreaterThan(0);
    receiver.on('/boot', () => ({ status: 200 }));
    await Promise.all([sender.deliver(request(receiver.url('/boot'), 1)), sender.deliver(request(receiver.url('/boot'), 2))]);
    expect(sender.threadId).toBe(booted);
    expect(receiver.requests).toHaveLength(2);
    await sender.boot(); // again: the same thread
    expect(sender.threadId).toBe(booted);
  });

  it('fails pending sends when it shuts down, and refuses new ones', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    const pending = sender.deliver(request(receiver.url('/hang'), 0, 30_000));
    await receiver.waitFor(1, '/hang');
    await sender.close();
    expect(await pending).toMatchObject({ responseCode: 0, error: 'the sender is shut down' });
    expect(await sender.deliver(request(receiver.url('/hang')))).toMatchObject({ responseCode: 0, error: 'the sender is shut down' });
  });
});
