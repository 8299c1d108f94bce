import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../db/pool.js';
import type { Logger } from '../logger.js';

/** An error the caller can act on: rendered as `{ error: { code, message, field? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** For a 503: when to try again, sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** How long a caller should wait before retrying while PostgreSQL or Temporal is away. */
export const RETRY_AFTER_SECONDS = 5;

/** 503 with Retry-After: a service the API needs is away (restarting); the request changed nothing. */
export const unavailable = (service: string) =>
  new ApiError(
    503,
    'service_unavailable',
    `${service} is unavailable; nothing was changed, try again shortly`,
    undefined,
    RETRY_AFTER_SECONDS,
  );

export const badRequest = (field: string, message: string) => new ApiError(400, 'invalid_input', message, field);
/** `field`: the body field that named it, when it was named in a body. */
export const notFound = (what: string, ident: string, field?: string) =>
  new ApiError(404, 'not_found', `${what} "${ident}" was not found`, field);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);

/** The first zod issue, with the field it names spelled as a dotted path. */
export function fromZodError(err: z.ZodError, prefix?: string): ApiError {
  const issue = err.issues[0];
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const field = [...path, issue.keys[0]].join('.');
    return badRequest(prefix ? `${prefix}.${field}` : field, `unknown field "${issue.keys[0]}"`);
  }
  const field = path.join('.') || prefix || 'body';
  return badRequest(prefix && path.length ? `${prefix}.${field}` : field, issue.message);
}

export function parse<T extends z.ZodType>(schema: T, value: unknown, where?: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw fromZodError(result.error, where);
  return result.data;
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

const PG_UNIQUE_VIOLATION = '23505';
/** PostgreSQL refuses NUL in text (22021) and in jsonb strings (22P05). */
const PG_BAD_TEXT = new Set(['22021', '22P05']);

export function errorHandler(rootLogger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    // The request's own logger (its id), with the node once a route found it.
    const logger = (req.log ?? rootLogger).child(res.locals.nodeUuid ? { nodeUuid: res.locals.nodeUuid } : {});
    let apiError: ApiError;
    if (err instanceof ApiError) apiError = err;
    else if (err?.type === 'entity.too.large')
      apiError = new ApiError(413, 'body_too_large', `request body is larger than ${err.limit} bytes`);
    else if (err?.type === 'entity.parse.failed')
      apiError = new ApiError(400, 'invalid_json', 'request body is not valid JSON', 'body');
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      apiError = new ApiError(err.status, 'bad_request', err.message);
    } else if (err?.code === PG_UNIQUE_VIOLATION) {
      // Two requests raced past the existence check; the database kept the first.
      apiError = new ApiError(409, 'conflict', `that already exists (${err.constraint ?? 'a unique field'})`);
    } else if (isDatabaseUnavailable(err)) {
      logger.warn(
        { err: { message: err.message, code: err.code }, method: req.method, path: req.path },
        'PostgreSQL is unavailable',
      );
      apiError = unavailable('the database');
    } else if (PG_BAD_TEXT.has(err?.code)) {
      apiError = new ApiError(400, 'invalid_input', 'text may not contain NUL characters (\\u0000)', 'body');
    } else {
      // Only the message and code: a database error's `where` and `detail` quote the row, secrets and all.
      // The cause too (same fields): a Temporal client error says what the server answered only there.
      const cause = err?.cause && { message: err.cause.message, code: err.cause.code };
      logger.error(
        {
          err: { message: err?.message, code: err?.code, stack: err?.stack, cause },
          method: req.method,
          path: req.path,
        },
        'request failed',
      );
      apiError = new ApiError(500, 'internal_error', 'internal error; see the API log for this request id');
    }
    if (apiError.retryAfterSeconds !== undefined) res.set('retry-after', String(apiError.retryAfterSeconds));
    res.status(apiError.status).json({
      error: { code: apiError.code, message: apiError.message, ...(apiError.field ? { field: apiError.field } : {}) },
      // Ironic's shape, which its clients read: a JSON string, as Ironic has always sent it.
      error_message: JSON.stringify({
        faultstring: apiError.message,
        faultcode: apiError.status < 500 ? 'Client' : 'Server',
        debuginfo: null,
      }),
    });
  };
}
