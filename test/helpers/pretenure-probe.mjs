// Loaded with --import before a program (and --expose-gc): once the program exits, makes objects of one literal that
// all outlive ten scavenges, then 5 000 more, and prints how much the young generation grew meanwhile. Where V8
// pretenures that literal, the 5 000 go straight to the old generation and the young one grows by the array alone.
import { getHeapSpaceStatistics } from 'node:v8';

const used = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name).space_used_size;
const make = (i) => ({ i, a: [1, 2], b: { c: i } });
process.on('exit', () => {
  const kept = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 2000; i++) kept.push(make(i));
    globalThis.gc({ type: 'minor' });
  }
  const young = used('new_space');
  for (let i = 0; i < 5000; i++) kept.push(make(i));
  process.stdout.write(`\nPRETENURE-PROBE ${JSON.stringify({ youngGrewBytes: used('new_space') - young, kept: kept.length })}\n`);
});
