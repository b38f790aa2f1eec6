// The sending thread: runs a Sender (undici pool, SSRF guard, time-outs) for ThreadedSender. Jobs arrive in batches
// and results go back in batches (resultReady says when).
import { parentPort, workerData } from 'node:worker_threads';
import type { AttemptSignatures, SigningContext } from './request.ts';
import { Sender } from './sender.ts';
import { JOB_WIDTH, packResult, REPLY_EVERY_MS, type SendBatch, type SendWorkerData, type SentBatch } from './threaded-sender.ts';

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
  const jobs = batch.jobs;
  for (let at = 0; at < jobs.length; at += JOB_WIDTH) {
    const id = jobs[at] as number;
    sender.deliverThen(
      {
        signing: contexts.get(jobs[at + 1] as number)!,
        url: jobs[at + 2] as string,
        eventId: jobs[at + 3] as string,
        body: jobs[at + 4] as string | Uint8Array,
        userAgent: jobs[at + 5] as string,
        attemptedAt: jobs[at + 6] as number,
        timeoutMs: jobs[at + 7] as number,
        sendBy: jobs[at + 8] as number | undefined,
        outsideLimit: jobs[at + 9] as boolean | undefined,
        signatures: jobs[at + 10] as AttemptSignatures,
      },
      (result) => {
        packResult(done, id, result);
        resultReady();
      },
    );
  }
});

// Loaded and listening: an empty batch of results tells ThreadedSender.boot() so.
port.postMessage([] satisfies SentBatch);
