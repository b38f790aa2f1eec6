// The bench's side of the receiver process: start it, reset it between runs, read counts and statistics.
import type { ChildProcess } from 'node:child_process';
import { firstMessage, forkBench, Rpc, stopChild } from './child.ts';
import type { ReceiverReply, ReceiverRequest, ReceiverStats } from './receiver-protocol.ts';
import { subscriberPath } from './workload.ts';

export interface ReceiverHandle {
  pid: number;
  origin: string;
  url(subscriber: number): string;
  reset(): Promise<void>;
  count(): Promise<{ unique: number; received: number }>;
  stats(): Promise<ReceiverStats>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<ReceiverHandle> {
  const child: ChildProcess = forkBench('receiver');
  const rpc = new Rpc<ReceiverRequest, ReceiverReply>(child, 'receiver');
  const ready = await firstMessage(child, (m): m is { id: 0; port: number } => typeof (m as { port?: unknown }).port === 'number', 'receiver');
  const origin = `http://127.0.0.1:${ready.port}`;
  return {
    pid: child.pid!,
    origin,
    url: (subscriber) => origin + subscriberPath(subscriber),
    reset: async () => void (await rpc.call({ op: 'reset' })),
    count: async () => {
      const reply = await rpc.call<{ id: number; unique: number; received: number }>({ op: 'count' });
      return { unique: reply.unique, received: reply.received };
    },
    stats: async () => (await rpc.call<{ id: number; stats: ReceiverStats }>({ op: 'stats' })).stats,
    close: () => stopChild(child, 2000),
  };
}
