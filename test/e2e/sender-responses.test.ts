// How the Sender reads answers from a real HTTP server on 127.0.0.1, including ones that stop half-way: every attempt
// ends with a result by its deadline, however the response breaks off.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESPONSE_BODY_LIMIT, Sender } from '../../src/delivery/sender.ts';

const routes: Record<string, (res: ServerResponse) => void> = {
  // Headers and a first chunk, then nothing: the deadline must end the attempt while its body is being read.
  '/stalls': (res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  },
  // Headers and a first chunk, then the connection is dropped.
  '/drops': (res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20));
  },
  // A body that never ends: what is past the drain limit is not worth the connection.
  '/endless': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = 'y'.repeat(16 * 1024);
    let written = 0;
    const more = () => {
      if (res.destroyed) return;
      written += chunk.length;
      res.write(chunk, () => setImmediate(more));
    };
    res.on('close', () => (endlessWritten = written));
    more();
  },
  // Informational answers first: the attempt's outcome is the final one.
  '/hints': (res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style', 'retry-after': '5' });
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end('created');
  },
  '/busy': (res) => {
    res.writeHead(503, { 'retry-after': '120' });
    res.end('try later');
  },
  '/large': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('x'.repeat(200 * 1024));
  },
};

let server: Server;
/** How much of /endless was written before the client dropped the connection. */
let endlessWritten = 0;
let origin: string;
const sender = new Sender({ allowPrivateNetworks: true });

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => routes[req.url ?? '']?.(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sender.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const send = (path: string, timeoutMs = 300) => sender.send(`${origin}${path}`, { 'content-type': 'application/json' }, '{}', timeoutMs);

describe('Sender reading responses', () => {
  it('ends an attempt whose body stalls after the headers at its deadline, as a time-out', async () => {
    const result = await send('/stalls', 300);
    expect(result).toMatchObject({ responseCode: 0, error: 'timed out after 300 ms' });
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('ends an attempt whose connection drops in the middle of the body, as a network error', async () => {
    const result = await send('/drops', 5000);
    expect(result.responseCode).toBe(0);
    expect(result.error).toBeTruthy();
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('keeps the first 4 KiB of a large body and still answers', async () => {
    const result = await send('/large', 5000);
    expect(result).toMatchObject({ responseCode: 200, error: null });
    expect(result.responseBody).toHaveLength(RESPONSE_BODY_LIMIT);
  });

  it('answers with the first 4 KiB of a body that never ends, long before the deadline', async () => {
    const result = await send('/endless', 5000);
    expect(result).toMatchObject({ responseCode: 200, error: null });
    expect(result.responseBody).toBe('y'.repeat(RESPONSE_BODY_LIMIT));
    await expect.poll(() => endlessWritten).toBeGreaterThan(0);
    expect(endlessWritten).toBeLessThan(1024 * 1024); // dropped at the 64 KiB drain limit, give or take the buffers
  });

  it('takes the final answer after informational ones', async () => {
    const result = await send('/hints', 5000);
    expect(result).toMatchObject({ responseCode: 201, responseBody: 'created', error: null });
    expect(result.retryAfter).toBeUndefined();
  });

  it('keeps a failed answer\'s status, body and Retry-After', async () => {
    expect(await send('/busy', 5000)).toMatchObject({ responseCode: 503, responseBody: 'try later', error: 'HTTP 503', retryAfter: '120' });
  });
});
