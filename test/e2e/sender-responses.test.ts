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
  '/large': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('x'.repeat(200 * 1024));
  },
};

let server: Server;
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
});
