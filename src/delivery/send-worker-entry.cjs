// Entry of the sending thread. A worker thread starts without the main thread's TypeScript loader; tsx's CommonJS
// hook compiles in this thread itself (the ESM hook would start one more loader thread, with its own heap).
require('tsx/cjs/api').register();
require('./send-worker.ts');
