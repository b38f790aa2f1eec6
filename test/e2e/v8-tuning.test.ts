// bin/hookd.js turns V8's allocation-site pretenuring off before any of hookd's code runs (why: the comment there).
// A probe loaded ahead of the program makes objects of one literal that all outlive scavenges, then 5 000 more, and
// reports how much the young generation grew while it made those: pretenured, they went to the old one instead.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probeOutput } from '../helpers/process.ts';

const BIN = fileURLToPath(new URL('../../bin/hookd.js', import.meta.url));
const PROBE = fileURLToPath(new URL('../helpers/pretenure-probe.mjs', import.meta.url));

/**
 * Bytes the young generation grew by while the probe made its last 5 000 objects (~560 KB when they are allocated
 * there). The young generation is fixed at its largest size, as it is under load: V8 tenures a site only at a scavenge
 * of a full-sized young generation.
 */
function youngGrowth(program: string[]): number {
  const args = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', '--import', PROBE, ...program];
  return probeOutput<{ youngGrewBytes: number }>(args, 'PRETENURE-PROBE').youngGrewBytes;
}

describe('V8 tuning of the hookd process', () => {
  it('the probe sees V8 pretenure a literal whose objects outlive scavenges, in a plain node process', () => {
    expect(youngGrowth(['-e', ''])).toBeLessThan(200_000);
  });

  it('bin/hookd.js turns that off: the objects are made in the young generation', () => {
    expect(youngGrowth([BIN, '--version'])).toBeGreaterThan(400_000);
  });
});
