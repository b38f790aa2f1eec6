// Attempts handed to the sender beyond what it may have on the wire: the sender keeps `maxActive` requests going and
// the rest wait their turn in order; one that cannot start while its lease still covers it comes back unsent, and the
// dispatcher hands its delivery back instead of recording an attempt. Real HTTP to a receiver on 127.0.0.1, a real
// SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.ts';
import { Dispatcher } from '../../src/delivery/dispatcher.ts';
import { signingContext } from '../../src/delivery/request.ts';
import { Sender } from '../../src/delivery/sender.ts';
import type { Tenant } from '../../src/domain/types.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Store } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { eventually } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { queuedSubscriber } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_handoff', extensionId: 'ext_handoff' };

let receiver: Receiver;
/** Requests the receiver is answering right now, and the most it ever had at once. */
let open = 0;
let mostOpen = 0;

beforeEach(async () => {
  receiver = await startReceiver();
  open = 0;
  mostOpen = 0;
});
afterEach(async () => {
  await receiver.close();
});

/** Answers after `delayMs`, counting how many requests are open at once. */
function slowly(path: string, delayMs: number): void {
  receiver.on(path, async () => {
    mostOpen = Math.max(mostOpen, ++open);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    open--;
    return { status: 200 };
  });
}

const json = { 'content-type': 'application/json' };

describe('Sender with maxActive', () => {
  it('keeps at most maxActive requests on the wire and sends the rest in turn', async () => {
    slowly('/slow', 50);
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 2 });
    try {
      const handedOver = performance.now();
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sender.send(receiver.url('/slow'), json, `{"n":${i}}`, 5000)));
      const total = performance.now() - handedOver;
      expect(results.map((r) => r.responseCode)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(mostOpen).toBe(2);
      // Started in the order they were handed over, two at a time (the two of a round are on two connections, so
      // which of them the receiver reads first is the kernel's choice).
      const arrived = receiver.requests.map((r) => r.json.n as number);
      const rounds = [0, 2, 4].map((i) => arrived.slice(i, i + 2).sort((x, y) => x - y));
      expect(rounds).toEqual([[0, 1], [2, 3], [4, 5]]);
      // The duration counts from the start of the request, not from the wait for a slot: the last two waited for two
      // rounds of answers that each took at least 50 ms.
      expect(results[5]!.durationMs).toBeLessThanOrEqual(total - 95);
    } finally {
      await sender.close();
    }
  });

  it('gives a freed slot to the attempt that waited, not to one sent from the answer\'s callback', async () => {
    slowly('/slow', 30);
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 1 });
    const signing = signingContext({ auth_meta: { type: 'hmac', secret: 'a-secret-of-sufficient-length' }, custom_headers: {} } as never);
    const signed = (n: number) => ({
      url: receiver.url('/slow'),
      signing,
      eventId: `evt_handoff_${n}`,
      body: `{"n":${n}}`,
      userAgent: 'hookd/test',
      attemptedAt: Date.now(),
      timeoutMs: 5000,
    });
    try {
      const done: number[] = [];
      const all = new Promise<void>((resolve) => {
        const finish = (n: number) => () => {
          done.push(n);
          if (done.length === 3) resolve();
        };
        // 0 goes on the wire, 1 waits; 0's answer sends 2 at once, as the dispatcher does when a slot frees.
        sender.deliverThen(signed(0), () => {
          finish(0)();
          sender.deliverThen(signed(2), finish(2));
        });
        sender.deliverThen(signed(1), finish(1));
      });
      await all;
      expect(receiver.requests.map((r) => r.json.n)).toEqual([0, 1, 2]);
      expect(mostOpen).toBe(1);
    } finally {
      await sender.close();
    }
  });

  it('answers unsent, without sending it, an attempt that could not start by its sendBy', async () => {
    slowly('/slow', 300);
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 1 });
    try {
      const first = sender.send(receiver.url('/slow'), json, '{"n":0}', 5000);
      const late = sender.send(receiver.url('/slow'), json, '{"n":1}', 5000, Date.now() + 100);
      const patient = sender.send(receiver.url('/slow'), json, '{"n":2}', 5000, Date.now() + 5000);
      expect(await late).toMatchObject({ unsent: true, responseCode: 0, error: 'not sent: no connection slot came free in time' });
      expect((await first).responseCode).toBe(200);
      expect((await patient).responseCode).toBe(200);
      expect(receiver.requests.map((r) => r.json.n)).toEqual([0, 2]);
    } finally {
      await sender.close();
    }
  });

  it('sends a request outside the limit at once, beside a full wire (a ping)', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    receiver.on('/ping', () => ({ status: 200 }));
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 1 });
    try {
      const hanging = sender.send(receiver.url('/hang'), json, '{}', 1000);
      const queued = sender.send(receiver.url('/ping'), json, '{"queued":true}', 5000);
      const ping = await sender.send(receiver.url('/ping'), json, '{"ping":true}', 5000, undefined, true);
      expect(ping.responseCode).toBe(200);
      // Only the ping has gone past the hanging request; the queued one waits for its slot.
      expect(receiver.requests.filter((r) => r.path === '/ping').map((r) => r.json)).toEqual([{ ping: true }]);
      expect((await hanging).error).toBe('timed out after 1000 ms');
      expect((await queued).responseCode).toBe(200);
    } finally {
      await sender.close();
    }
  });

  it('answers the attempts still waiting when it closes', async () => {
    receiver.on('/hang', () => ({ hang: true }));
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 1 });
    void sender.send(receiver.url('/hang'), json, '{}', 300); // closing waits for it
    const waiting = sender.send(receiver.url('/hang'), json, '{}', 5000);
    await receiver.waitFor(1, '/hang');
    await sender.close();
    const result = await waiting;
    expect(result).toMatchObject({ responseCode: 0, error: 'the sender is shut down' });
    expect(result.unsent).toBeUndefined(); // a failure: its lease was already handed back
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('Dispatcher handing the sender more than it may send at once', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(tmpdir() + sep + 'hookd-handoff-');
    store = openSqliteStore(join(dir, 'hookd.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands back what waited in the sender past its lease: each delivery is sent once and has one attempt', async () => {
    // One request on the wire, eight handed over: each answer takes 300 ms, but an attempt must start within 200 ms
    // of its claim (half the lease margin), so most of each round comes back unsent and is claimed again.
    slowly('/hook', 300);
    const subscriberId = await queuedSubscriber(store, TENANT, { webhookUrl: receiver.url('/hook'), maxInFlight: 8, timeoutMs: 2000, deliveries: 8 });
    const sender = new Sender({ allowPrivateNetworks: true, maxActive: 1 });
    // Hand-backs seen by the store: those that come back unsent together go back in one call.
    const handBacks: number[] = [];
    const watched = new Proxy(store, {
      get(target, key, receiverOfGet) {
        if (key === 'releaseLeases') {
          return (...args: Parameters<Store['releaseLeases']>) => {
            handBacks.push(args[2]?.length ?? -1);
            return target.releaseLeases(...args);
          };
        }
        return Reflect.get(target, key, receiverOfGet);
      },
    });
    const dispatcher = new Dispatcher(watched, sender, createLogger({ logLevel: 'silent' }), createMetrics(), {
      concurrency: 1,
      handoff: 8,
      leaseMarginMs: 400,
      flushDelayMs: 2,
    });
    await dispatcher.start();
    try {
      await eventually(async () => receiver.requests.length >= 8, 20_000);
      const ids = Array.from({ length: 8 }, (_, i) => `evt_queued_${subscriberId}_${i}`);
      await eventually(async () => {
        const events = await Promise.all(ids.map((id) => store.getEvent(TENANT, id)));
        return events.every((e) => e?.deliveries[0]?.status === 'SUCCESS');
      }, 10_000);
      for (const id of ids) {
        const event = await store.getEvent(TENANT, id);
        expect(event!.deliveries[0]).toMatchObject({ status: 'SUCCESS', attempt: 1 });
      }
    } finally {
      await dispatcher.stop(1000);
      await sender.close();
    }
    expect(mostOpen).toBe(1);
    // The first round's seven waited together past their sendBy and went back in one call.
    expect(handBacks[0]).toBe(7);
    expect(handBacks.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(7);
    expect(receiver.requests.map((r) => r.headers['webhook-id']).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `evt_queued_${subscriberId}_${i}`).sort(),
    );
  });
});
