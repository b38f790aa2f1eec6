// Which store failures mean "the store is unavailable right now" (answered 503, retried by the dispatcher)
// rather than a bug. One table for every adapter, so nothing outside store/ knows SQLSTATEs or SQLite codes.

const UNAVAILABLE_CODES = new Set([
  // network
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  // PostgreSQL: connection exceptions (class 08), shutdown and recovery (57P0x), too many connections
  '08000', '08001', '08003', '08004', '08006', '08007', '57P01', '57P02', '57P03', '53300',
  // SQLite: locked past busy_timeout, disk trouble
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN',
]);

// pg's and pg-pool's own errors carry no code: a connection lost, a connect that timed out, a client no longer usable.
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|The database connection is not open|Cannot use a pool after calling end/i;

export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  // Connecting to a name with several addresses fails with an AggregateError of one error per address.
  const errors = (e as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((x) => x !== err && isStoreUnavailable(x))) return true;
  return e.cause !== undefined && e.cause !== err && isStoreUnavailable(e.cause);
}
