import { describe, expect, it } from 'vitest';
import { associationAdmits } from '../../src/domain/criteria.ts';
import type { Association, Criteria } from '../../src/domain/types.ts';

const association = (criteria: Criteria, application_id: string[] = ['app1', 'app2']): Association => ({
  company_id: 1,
  application_id,
  criteria,
});

describe('associationAdmits', () => {
  it.each([
    // criteria, event company, event application, admitted
    ['ALL', 1, null, true],
    ['ALL', 1, 'app1', true],
    ['ALL', 1, 'app-not-listed', true],
    ['EMPTY', 1, null, true],
    ['EMPTY', 1, 'app1', false],
    ['EMPTY', 1, 'app-not-listed', false],
    ['SPECIFIC-EVENTS', 1, 'app1', true],
    ['SPECIFIC-EVENTS', 1, 'app2', true],
    ['SPECIFIC-EVENTS', 1, 'app-not-listed', false],
    ['SPECIFIC-EVENTS', 1, null, false],
  ] as const)('%s: company %i, application %j → %s', (criteria, companyId, applicationId, expected) => {
    expect(associationAdmits(association(criteria), companyId, applicationId)).toBe(expected);
  });

  it.each(['ALL', 'EMPTY', 'SPECIFIC-EVENTS'] as const)('%s never admits an event of another company', (criteria) => {
    expect(associationAdmits(association(criteria), 2, null)).toBe(false);
    expect(associationAdmits(association(criteria), 2, 'app1')).toBe(false);
  });

  it('SPECIFIC-EVENTS with no listed applications admits nothing', () => {
    expect(associationAdmits(association('SPECIFIC-EVENTS', []), 1, 'app1')).toBe(false);
    expect(associationAdmits(association('SPECIFIC-EVENTS', []), 1, null)).toBe(false);
  });

  it('SPECIFIC-EVENTS compares application ids exactly (case-sensitive, no prefix match)', () => {
    expect(associationAdmits(association('SPECIFIC-EVENTS', ['app1']), 1, 'APP1')).toBe(false);
    expect(associationAdmits(association('SPECIFIC-EVENTS', ['app1']), 1, 'app')).toBe(false);
    expect(associationAdmits(association('SPECIFIC-EVENTS', ['app1']), 1, 'app10')).toBe(false);
  });
});
