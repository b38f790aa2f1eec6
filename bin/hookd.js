#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so a checkout needs no build step.
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// V8 allocates the objects of an allocation site (a literal in the code) straight into the old generation once most
// of them outlived two scavenges, and such a site stays that way. A delivery's claim, lease and result objects do
// outlive them while a batch publish holds the main thread for a while, and from then on each delivery's objects went
// to the old generation, to be freed only by a mark-compact: on the bench, one every ~0.5 s under load, each ~0.1 s
// of CPU and a 20-40 ms bump in delivery latency. Without pretenuring they are collected young. Set before any of
// hookd's code runs; V8 reads this flag as it goes, not only at start-up.
setFlagsFromString('--no-allocation-site-pretenuring');

register();
await import('../src/cli.ts');
