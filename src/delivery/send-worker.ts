// The sending thread: runs a Sender (undici pool, SSRF guard, time-outs) for ThreadedSender. Jobs arrive in batches
// and results go back in batches, one message per turn of this thread's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import type { SigningContext } from './request.ts';
import { Sender } from './sender.ts';
import { packResult, type SendBatch, type SendWorkerData, type SentBatch } from './threaded-sender.ts';

const port = parentPort!;
const { allowPrivateNetworks, maxActive } = workerData as SendWorkerData;
const sender = new Sender({ allowPrivateNetworks, maxActive });
const contexts = new Map<number, SigningContext>();
let done: SentBatch = [];
let scheduled = false;

function reply(): void {
  scheduled = false;
  const batch = done;
  done = [];
  port.postMessage(batch);
}

port.on('message', (batch: SendBatch) => {
  if (batch.reset) contexts.clear();
  for (const [id, context] of batch.contexts) contexts.set(id, context);
  for (const [id, contextId, url, eventId, body, userAgent, attemptedAt, timeoutMs, sendBy, outsideLimit, signatures] of batch.jobs) {
    const signing = contexts.get(contextId)!;
    void sender.deliver({ url, signing, eventId, body, userAgent, attemptedAt, timeoutMs, sendBy, outsideLimit, signatures }).then((result) => {
      packResult(done, id, result);
      if (!scheduled) {
        scheduled = true;
        setImmediate(reply);
      }
    });
  }
});
