// A real HTTP receiver on 127.0.0.1 for e2e tests: records every request and answers as each test scripts it.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the sender's time-out must end the attempt). */
  hang?: boolean;
  /** Drop the connection without answering, with a TCP RST (the sender sees ECONNRESET). */
  reset?: boolean;
}

export type Script = (req: Received, nth: number) => Reply | Promise<Reply>;

export interface Receiver {
  url: (path?: string) => string;
  requests: Received[];
  on(path: string, script: Script): void;
  /** Resolves once `count` requests (optionally to `path`) have arrived; rejects after timeoutMs. */
  waitFor(count: number, path?: string, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const scripts = new Map<string, Script>();
  const counts = new Map<string, number>();
  const waiters: (() => void)[] = [];
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {}
      const path = (req.url ?? '/').split('?')[0]!;
      const received: Received = { path, headers: req.headers, body, json, at: Date.now() };
      const nth = (counts.get(path) ?? 0) + 1;
      counts.set(path, nth);
      requests.push(received);
      waiters.splice(0).forEach((w) => w());
      const reply: Reply = await (scripts.get(path) ?? ((): Reply => ({})))(received, nth);
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      if (reply.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const matching = (path?: string) => requests.filter((r) => path === undefined || r.path === path);

  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    requests,
    on: (path, script) => void scripts.set(path, script),
    waitFor(count, path, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver: expected ${count} requests${path ? ` to ${path}` : ''}, got ${matching(path).length}`)),
          timeoutMs,
        );
        const check = () => {
          const got = matching(path);
          if (got.length >= count) {
            clearTimeout(timer);
            resolve(got);
          } else waiters.push(check);
        };
        check();
      });
    },
    async close() {
      hanging.forEach((res) => res.destroy());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
