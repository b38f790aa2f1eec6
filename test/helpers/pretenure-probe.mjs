// Loaded with --import before a program (and --expose-gc): once the program exits, makes objects of one literal that
// all outlive ten scavenges, then 5 000 more, and prints how much the young generation grew meanwhile. Where V8
// pretenures that literal, the 5 000 go straight to the old generation and the young one grows by the array alone.
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';

const used = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name).space_used_size;
const make = (i) => ({ i, a: [1, 2], b: { c: i } });
process.on('exit', () => {
  const kept = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 2000; i++) kept.push(make(i));
    globalThis.gc({ type: 'minor' });
  }
  // A collection of V8's own while the 5 000 are made (seen under a loaded machine) moves or frees what the young
  // generation held, and its growth reads low or negative: measured again then, up to five times.
  let youngGrewBytes = -1;
  for (let attempt = 0, collected = true; attempt < 5 && collected; attempt++) {
    const gcs = new GCProfiler();
    gcs.start();
    const young = used('new_space');
    for (let i = 0; i < 5000; i++) kept.push(make(i));
    youngGrewBytes = used('new_space') - young;
    collected = gcs.stop().statistics.length > 0;
  }
  process.stdout.write(`\nPRETENURE-PROBE ${JSON.stringify({ youngGrewBytes, kept: kept.length })}\n`);
});
