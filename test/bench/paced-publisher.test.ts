// The latency phase publishes by the clock (open loop): a publish never waits for the answer to another, so slow 202s
// do not hold the next publishes back in the bench's own connection pool, where the wait would count as hookd's
// latency. A real HTTP server on 127.0.0.1 stands in for hookd and answers nothing until every publish has come in.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pacedPublisher, publishPaced } from '../../bench/runs.ts';
import { makeWorkload } from '../../bench/workload.ts';

const w = makeWorkload(100, 2, 2, 4);
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** A server that holds every answer until `expected` publishes have arrived, or `giveUpMs` have passed. */
async function holdingServer(expected: number, giveUpMs: number) {
  const held: ServerResponse[] = [];
  let arrivedBeforeAnswers = 0;
  let released = false;
  const answerHeld = () => {
    for (const res of held.splice(0)) res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ deliveries: w.fanout }));
  };
  const release = () => {
    released = true;
    clearTimeout(timer);
    answerHeld();
  };
  const timer = setTimeout(release, giveUpMs);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      held.push(res);
      if (released) answerHeld();
      else if (++arrivedBeforeAnswers === expected) release();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrived: () => arrivedBeforeAnswers };
}

describe('the latency phase publisher', () => {
  it('sends every publish when it is due, while none of the earlier ones has been answered', async () => {
    // 60 publishes in 0.3 s; the server answers once all 60 are in, or after 3 s. Four connections would have had four.
    const server = await holdingServer(60, 3000);
    const api = pacedPublisher(server.url);
    try {
      expect(await publishPaced(api, w, 200, 0.3, 0)).toBe(60);
    } finally {
      await api.close();
    }
    expect(server.arrived()).toBe(60);
  });
});
