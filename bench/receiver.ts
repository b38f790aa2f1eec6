// The receiver: its own process (forked by receiver-client.ts), a node:http server on 127.0.0.1 that answers every
// POST /s/<i> with 200 "ok", counts receipts per path and records the publish→receipt latency of each from the
// body's payload.sent_at. The parent asks for counts and statistics over IPC.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { percentile } from './stats.ts';
import { now } from './workload.ts';
import type { ReceiverReply, ReceiverRequest, ReceiverStats } from './receiver-protocol.ts';

const SEQ_SPACE = 2 ** 32;
/** BENCH_RECEIVER_DUMP=FILE: on every stats request, write each receipt since the last reset to FILE as CSV. */
const DUMP = process.env.BENCH_RECEIVER_DUMP;
const dump: string[] = [];

let latencies = new Float64Array(1 << 16);
let received = 0;
let perPath = new Map<number, number>();
let seen = new Set<number>();
let duplicates = 0;
let rejected = 0;
let firstAt = 0;
let lastAt = 0;

function reset(): void {
  dump.length = 0;
  latencies = new Float64Array(1 << 16);
  received = 0;
  perPath = new Map();
  seen = new Set();
  duplicates = 0;
  rejected = 0;
  firstAt = 0;
  lastAt = 0;
}

function record(subscriber: number, body: string, at: number): boolean {
  let payload: { sent_at?: unknown; seq?: unknown } | undefined;
  try {
    payload = (JSON.parse(body) as { payload?: { sent_at?: unknown; seq?: unknown } }).payload;
  } catch {
    return false;
  }
  if (typeof payload?.sent_at !== 'number' || typeof payload.seq !== 'number') return false;
  if (received === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[received++] = at - payload.sent_at;
  if (DUMP) dump.push(`${payload.sent_at},${subscriber},${payload.seq},${at - payload.sent_at}`);
  if (firstAt === 0) firstAt = at;
  lastAt = at;
  perPath.set(subscriber, (perPath.get(subscriber) ?? 0) + 1);
  const key = subscriber * SEQ_SPACE + payload.seq;
  if (seen.has(key)) duplicates++;
  else seen.add(key);
  return true;
}

function stats(): ReceiverStats {
  if (DUMP) writeFileSync(DUMP, `sent_at,subscriber,seq,latency_ms\n${dump.join('\n')}\n`);
  const sorted = latencies.slice(0, received).sort();
  const counts = [...perPath.values()];
  return {
    received,
    unique: seen.size,
    duplicates,
    rejected,
    first_at: firstAt,
    last_at: lastAt,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    paths: perPath.size,
    min_per_path: counts.length ? Math.min(...counts) : 0,
    max_per_path: counts.length ? Math.max(...counts) : 0,
  };
}

const server = createServer((req, res) => {
  const match = /^\/s\/(\d+)$/.exec(req.url ?? '');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const at = now();
    const ok = req.method === 'POST' && match !== null && record(Number(match[1]), Buffer.concat(chunks).toString('utf8'), at);
    if (!ok) rejected++;
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain', 'content-length': ok ? '2' : '3' });
    res.end(ok ? 'ok' : 'bad');
  });
});
server.keepAliveTimeout = 120_000;

const send = (message: ReceiverReply): void => void process.send!(message);

process.on('message', (message: ReceiverRequest) => {
  switch (message.op) {
    case 'reset':
      reset();
      send({ id: message.id, ok: true });
      break;
    case 'count':
      send({ id: message.id, unique: seen.size, received });
      break;
    case 'stats':
      send({ id: message.id, stats: stats() });
      break;
  }
});
// The parent went away: do not linger.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ id: 0, port: (server.address() as AddressInfo).port });
});
