// The sending thread: runs a Sender (undici pool, SSRF guard, time-outs) for ThreadedSender. Jobs arrive in batches
// and results go back in batches, one message per turn of this thread's event loop, as flat arrays (threaded-sender.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Sender } from './sender.ts';
import { JOB_FIELDS, type ResultBatch, type Route, type SendBatch, type SendWorkerData } from './threaded-sender.ts';

const port = parentPort!;
const sender = new Sender({ allowPrivateNetworks: (workerData as SendWorkerData).allowPrivateNetworks });
const routes = new Map<number, Route>();
let done: ResultBatch = [];
let scheduled = false;

function reply(): void {
  scheduled = false;
  const batch = done;
  done = [];
  port.postMessage(batch);
}

port.on('message', (batch: SendBatch) => {
  for (const [id, route] of batch.routes) routes.set(id, route);
  const jobs = batch.jobs;
  for (let i = 0; i < jobs.length; i += JOB_FIELDS) {
    const id = jobs[i] as number;
    const route = routes.get(jobs[i + 1] as number)!;
    const request = {
      url: route.url,
      signing: route.signing,
      eventId: jobs[i + 2] as string,
      body: jobs[i + 3] as string,
      userAgent: route.userAgent,
      attemptedAt: jobs[i + 4] as number,
      timeoutMs: route.timeoutMs,
    };
    void sender.deliver(request).then((r) => {
      done.push(id, r.responseCode, r.durationMs, r.responseBody, r.error, r.retryAfter);
      if (!scheduled) {
        scheduled = true;
        setImmediate(reply);
      }
    });
  }
  // After the jobs: a route replaced within this batch may still be the one of its earlier jobs.
  for (const id of batch.forget) routes.delete(id);
});
