import { describe, expect, it } from 'vitest';
import { isStoreUnavailable } from '../../src/store/errors.ts';

describe('isStoreUnavailable', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }, true],
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, true],
    [{ code: '08006' }, true],
    [{ code: 'SQLITE_BUSY' }, true],
    [{ code: 'SQLITE_IOERR_FSYNC' }, true],
    [new Error('Connection terminated unexpectedly'), true],
    [{ message: 'wrapped', cause: { code: 'ECONNRESET' } }, true],
    [new Error('timeout exceeded when trying to connect'), true],
    [new Error('Client was closed and is not queryable'), true],
    [{ code: '57P03', message: 'the database system is starting up' }, true],
    [new AggregateError([{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }], ''), true],
    [new AggregateError([{ code: 'ECONNREFUSED' }, new TypeError('x')], ''), false],
    [{ code: '23505', message: 'duplicate key value violates unique constraint' }, false],
    [{ code: 'SQLITE_CONSTRAINT_UNIQUE' }, false],
    [new TypeError('x is undefined'), false],
    [null, false],
    ['ECONNREFUSED', false],
  ])('%o → %s', (err, expected) => {
    expect(isStoreUnavailable(err)).toBe(expected);
  });
});
