import { describe, expect, it } from 'vitest';
import { eventSlugProblem, parseSlug, slugMatches, slugPatternProblem } from '../../src/domain/slug.ts';

describe('eventSlugProblem', () => {
  it.each([
    'company/product/create/v1',
    'application/order/placed/v1',
    'application/order_item/status-update/v12',
    'a/b/c/v0',
    '0/1/2/v3',
  ])('accepts the well-formed event slug %s', (slug) => {
    expect(eventSlugProblem(slug)).toBeNull();
  });

  it.each([
    ['', /four segments/],
    ['company/product/create', /four segments/],
    ['company/product/create/v1/extra', /four segments/],
    ['company/product/create/v1/', /four segments/],
    ['/company/product/v1', /a-z, 0-9/],
    ['company//create/v1', /a-z, 0-9/],
    ['Company/product/create/v1', /a-z, 0-9/],
    ['company/pro duct/create/v1', /a-z, 0-9/],
    ['company/product.x/create/v1', /a-z, 0-9/],
    ['company/product/*/v1', /a-z, 0-9/],
    ['company/product/create/1', /version/],
    ['company/product/create/version1', /version/],
    ['company/product/create/v', /version/],
    ['company/product/create/v1a', /version/],
  ])('rejects %j with a reason', (slug, reason) => {
    expect(eventSlugProblem(slug)).toMatch(reason);
  });
});

describe('slugPatternProblem', () => {
  it.each([
    'company/product/create/v1',
    'application/order/*/v1',
    '*/*/*/*',
    'company/*/create/*',
    '*/product/create/v2',
  ])('accepts the pattern %s', (pattern) => {
    expect(slugPatternProblem(pattern)).toBeNull();
  });

  it.each([
    ['application/order/*', /four segments/],
    ['*/*/*/*/*', /four segments/],
    ['**/order/placed/v1', /or be \*/],
    ['application/order/pla*/v1', /or be \*/],
    ['application/ORDER/placed/v1', /or be \*/],
    ['application//placed/v1', /or be \*/],
    ['application/order/placed/1', /version/],
    ['application/order/placed/latest', /version/],
  ])('rejects %j with a reason', (pattern, reason) => {
    expect(slugPatternProblem(pattern)).toMatch(reason);
  });
});

describe('slugMatches', () => {
  it.each([
    ['company/product/create/v1', 'company/product/create/v1', true],
    ['company/product/create/v1', 'company/product/create/v2', false],
    ['company/product/create/v1', 'company/product/update/v1', false],
    ['application/order/*/v1', 'application/order/placed/v1', true],
    ['application/order/*/v1', 'application/order/cancelled/v1', true],
    ['application/order/*/v1', 'application/order/placed/v2', false],
    ['application/order/*/v1', 'company/order/placed/v1', false],
    ['application/order/*/v1', 'application/shipment/placed/v1', false],
    ['*/*/*/*', 'company/product/create/v1', true],
    ['*/product/*/*', 'company/product/delete/v3', true],
    ['*/product/*/*', 'company/brand/delete/v3', false],
    ['company/product/create/*', 'company/product/create/v9', true],
    ['*/*/*', 'company/product/create/v1', false],
    ['*/*/*/*', 'company/product/create', false],
    ['*/*/*/*', 'company/product/create/v1/x', false],
  ] as const)('pattern %s against %s → %s', (pattern, slug, expected) => {
    expect(slugMatches(pattern, slug)).toBe(expected);
  });

  it('treats * as a whole segment, not a wildcard inside a segment', () => {
    expect(slugMatches('application/ord*/placed/v1', 'application/order/placed/v1')).toBe(false);
  });

  it('does not let a slug segment named * match a different pattern segment', () => {
    expect(slugMatches('application/order/placed/v1', 'application/order/*/v1')).toBe(false);
  });
});

describe('parseSlug', () => {
  it.each([
    ['company/product/create/v1', { category: 'company', name: 'product', type: 'create', version: '1' }],
    ['application/order/placed/v12', { category: 'application', name: 'order', type: 'placed', version: '12' }],
    ['application/order_item/status-update/v0', { category: 'application', name: 'order_item', type: 'status-update', version: '0' }],
  ])('splits %s into category, name, type and the version number', (slug, expected) => {
    expect(parseSlug(slug)).toEqual(expected);
  });

  it('fills missing segments with empty strings', () => {
    expect(parseSlug('company/product')).toEqual({ category: 'company', name: 'product', type: '', version: '' });
  });
});
