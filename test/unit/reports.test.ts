import { describe, expect, it } from 'vitest';
import { bucketCount, bucketStart, defaultInterval, formatMs, percentage } from '../../src/domain/reports.ts';
import { csvField, toCsv } from '../../src/api/csv.ts';

const AT = Date.UTC(2026, 10, 1, 3, 2, 51, 123);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('report buckets', () => {
  it('start on the UTC minute, hour and day', () => {
    expect(new Date(bucketStart(AT, 'minute')).toISOString()).toBe('2026-11-01T03:02:00.000Z');
    expect(new Date(bucketStart(AT, 'hour')).toISOString()).toBe('2026-11-01T03:00:00.000Z');
    expect(new Date(bucketStart(AT, 'day')).toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });

  it('count every bucket the inclusive range touches', () => {
    expect(bucketCount(AT, AT, 'minute')).toBe(1);
    expect(bucketCount(AT, AT + MINUTE, 'minute')).toBe(2);
    expect(bucketCount(bucketStart(AT, 'hour'), bucketStart(AT, 'hour') + HOUR - 1, 'hour')).toBe(1);
    expect(bucketCount(bucketStart(AT, 'hour'), bucketStart(AT, 'hour') + HOUR, 'hour')).toBe(2);
  });

  it.each([
    [0, 'minute'],
    [199 * MINUTE, 'minute'],
    [200 * MINUTE, 'hour'],
    [199 * HOUR, 'hour'],
    [200 * HOUR, 'day'],
    [1000 * DAY, 'day'],
  ] as const)('default interval for a range of %d ms from the start of a day: %s', (length, interval) => {
    const start = bucketStart(AT, 'day');
    expect(defaultInterval(start, start + length)).toBe(interval);
  });

  it('show means with two decimals and percentages rounded to two decimals', () => {
    expect(formatMs(139.5)).toBe('139.50');
    expect(formatMs(101 / 3)).toBe('33.67');
    expect(formatMs(0)).toBe('0.00');
    expect(percentage(1, 3)).toBe(33.33);
    expect(percentage(2, 3)).toBe(66.67);
    expect(percentage(0, 0)).toBe(0);
    expect(percentage(5, 5)).toBe(100);
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes only fields with a comma, a quote or a line break, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
  });

  it('writes a header row and CRLF-ended lines in column order', () => {
    const rows = [
      { id: 1, name: 'a,b', note: null },
      { id: 2, name: 'x', note: 'q"' },
    ];
    expect(toCsv(['id', 'name', 'note'], rows)).toBe('id,name,note\r\n1,"a,b",\r\n2,x,"q"""\r\n');
    expect(toCsv(['id'], [])).toBe('id\r\n');
  });
});
