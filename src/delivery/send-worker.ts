// The sending thread: runs a Sender (undici pool, SSRF guard, time-outs) for ThreadedSender. Jobs arrive in batches
// and results go back in batches (resultReady says when).
import { parentPort, workerData } from 'node:worker_threads';
import type { SigningContext } from './request.ts';
import { Sender } from './sender.ts';
import { packResult, REPLY_EVERY_MS, type SendBatch, type SendWorkerData, type SentBatch } from './threaded-sender.ts';

const port = parentPort!;
const { allowPrivateNetworks, maxActive, replyEveryMs = REPLY_EVERY_MS } = workerData as SendWorkerData;
const sender = new Sender({ allowPrivateNetworks, maxActive });
const contexts = new Map<number, SigningContext>();
let done: SentBatch = [];
let timer: NodeJS.Timeout | undefined;
let immediate = false;

/**
 * A result goes back with the others of its turn when nothing else is pending here (a lone attempt, a ping: nobody
 * waits longer), otherwise within replyEveryMs with those that come in meanwhile.
 */
function resultReady(): void {
  if (sender.pending > 0) {
    if (!timer && !immediate) timer = setTimeout(reply, replyEveryMs);
  } else if (!immediate) {
    immediate = true;
    clearTimeout(timer);
    timer = undefined;
    setImmediate(reply);
  }
}

function reply(): void {
  clearTimeout(timer);
  timer = undefined;
  immediate = false;
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
      resultReady();
    });
  }
});
