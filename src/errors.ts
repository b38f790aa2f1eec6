// The one error type thrown anywhere in hookd; the API's error handler turns it into {success:false, message, code}.

export const ErrorCodes = {
  BAD_REQUEST: 400,
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_CONFIGURATION: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  STORE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class HookdError extends Error {
  readonly status: number;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'HookdError';
    this.code = code;
    this.status = ErrorCodes[code];
  }
}

export const notFound = (what: string, id: string | number): HookdError =>
  new HookdError('NOT_FOUND', `${what} ${id} was not found`);
