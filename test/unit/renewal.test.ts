// Renewal says when an owner copies its churning maps and sets; Leases.renew is one such copy: it must keep every lease,
// and keep the churn of taking and dropping leases out of the old generation.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Renewal } from '../../src/renewal.ts';
import { Leases } from '../../src/store/sqlite/leases.ts';
import { probeOutput } from '../helpers/process.ts';

describe('Renewal', () => {
  it('is due at the first ask, then at most once per interval', () => {
    let now = 1000;
    const renewal = new Renewal(50, () => now);
    expect(renewal.due()).toBe(true);
    now += 49;
    expect(renewal.due()).toBe(false);
    now += 1;
    expect(renewal.due()).toBe(true);
    expect(renewal.due()).toBe(false);
  });

  it('with an interval of 0, is due at every ask', () => {
    const renewal = new Renewal(0, () => 5);
    expect([renewal.due(), renewal.due(), renewal.due()]).toEqual([true, true, true]);
  });
});

describe('Leases.renew', () => {
  const company = (n: number) => 100 + n;

  /** Old-generation growth over 100 000 lease take/drop steps on maps already old (test/helpers/lease-churn-probe.ts). */
  const oldGrowth = (mode: 'plain' | 'renew'): number => {
    const probe = fileURLToPath(new URL('../helpers/lease-churn-probe.ts', import.meta.url));
    return probeOutput<{ oldGrewBytes: number }>(['--expose-gc', '--import', 'tsx', probe, mode], 'LEASE-CHURN').oldGrewBytes;
  };

  it('keeps the churn out of the old generation: without renewals it grows by megabytes, with them hardly at all', () => {
    // Measured: 2.6-14 MB without, 23-44 KB with a copy every 1 000 steps.
    expect(oldGrowth('plain')).toBeGreaterThan(1_000_000);
    expect(oldGrowth('renew')).toBeLessThan(500_000);
  });

  it('keeps every lease, its holder, its end and its place, and what is done after it sees them', () => {
    const leases = new Leases();
    leases.take(1, 10, 100, 'node-a', 5000, company(1));
    leases.take(2, 10, 200, 'node-a', 3000, company(2));
    leases.take(3, 20, 150, 'node-b', 9000, company(3));
    leases.take(4, 20, 160, 'node-a', 500, company(4));
    const before = { a: leases.activeOf(10, 1000), b: leases.activeOf(20, 1000), ids: [leases.idsOf(10), leases.idsOf(20)], owned: leases.ownedBy('node-a') };

    leases.renew();

    expect({ a: leases.activeOf(10, 1000), b: leases.activeOf(20, 1000), ids: [leases.idsOf(10), leases.idsOf(20)], owned: leases.ownedBy('node-a') }).toEqual(before);
    expect(before.a).toEqual({ ids: [1, 2], earliestEnd: 3000, last: { at: 200, id: 2 } });
    expect(leases.heldCompany(3, 'node-b')).toBe(company(3));
    expect(leases.heldCompany(3, 'node-a')).toBeUndefined();

    leases.drop(2);
    leases.take(5, 10, 300, 'node-a', 8000, company(5));
    leases.dropSubscriber(20);
    leases.renew();
    expect(leases.idsOf(10)).toEqual([1, 5]);
    expect(leases.idsOf(20)).toEqual([]);
    expect(leases.ownedBy('node-a')).toEqual([1, 5]);
    expect(leases.activeOf(10, 1000).last).toEqual({ at: 300, id: 5 });
  });
});
