// Entry of the sending thread: a worker thread starts without the main thread's TypeScript loader, so it registers
// tsx itself before loading the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./send-worker.ts');
