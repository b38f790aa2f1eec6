// hookd_delivery_attempts_total: counted in a map, added to the counter at each scrape, never twice.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.ts';

const attemptLines = async (metrics: ReturnType<typeof createMetrics>): Promise<string[]> =>
  (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('hookd_delivery_attempts_total{'));

describe('attempt counts', () => {
  it('shows each attempt once, by outcome and subscriber, however often it is scraped', async () => {
    const metrics = createMetrics();
    metrics.attempts.count(7, true);
    metrics.attempts.count(7, true);
    metrics.attempts.count(7, false);
    metrics.attempts.count(9, false);
    const first = await attemptLines(metrics);
    expect(first.sort()).toEqual([
      'hookd_delivery_attempts_total{outcome="failure",subscriber_id="7"} 1',
      'hookd_delivery_attempts_total{outcome="failure",subscriber_id="9"} 1',
      'hookd_delivery_attempts_total{outcome="success",subscriber_id="7"} 2',
    ]);
    expect((await attemptLines(metrics)).sort()).toEqual(first.sort());
    metrics.attempts.count(9, false);
    expect(await attemptLines(metrics)).toContain('hookd_delivery_attempts_total{outcome="failure",subscriber_id="9"} 2');
  });
});
