// The sending thread: runs a Sender (undici pool, SSRF guard, time-outs) for ThreadedSender. Jobs arrive in batches
// and results go back in batches, one message per turn of this thread's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { Sender, type SendResult } from './sender.ts';
import type { SendJob, SendWorkerData } from './threaded-sender.ts';

const port = parentPort!;
const sender = new Sender({ allowPrivateNetworks: (workerData as SendWorkerData).allowPrivateNetworks });
let done: [number, SendResult][] = [];
let scheduled = false;

function reply(): void {
  scheduled = false;
  const batch = done;
  done = [];
  port.postMessage(batch);
}

port.on('message', (jobs: SendJob[]) => {
  for (const [id, request] of jobs) {
    void sender.deliver(request).then((result) => {
      done.push([id, result]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(reply);
      }
    });
  }
});
