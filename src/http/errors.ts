// The §5 error body and the codes and statuses the guard answers with; written with Node's own API so it
// behaves the same under Express 4 and 5.
import type { ServerResponse } from 'node:http';

/**
 * Every code the guard answers with. Credential failures (401) use the token service's
 * {@link VerifyFailure} codes plus `credentials_required`.
 */
export type GuardErrorCode =
  | 'malformed'
  | 'checksum'
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'user_mismatch'
  | 'user_required'
  | 'policy'
  | 'credentials_required'
  | 'ambiguous_request'
  | 'invalid_json'
  | 'forbidden_json_key'
  | 'body_too_large'
  | 'unsupported_body'
  | 'outside_token_scope'
  | 'restricted'
  | 'rate_limited'
  | 'unavailable';

/** The HTTP status of each code. */
export const GUARD_ERROR_STATUS: Readonly<Record<GuardErrorCode, number>> = {
  malformed: 401,
  checksum: 401,
  unknown: 401,
  revoked: 401,
  expired: 401,
  user_mismatch: 401,
  user_required: 401,
  policy: 401,
  credentials_required: 401,
  ambiguous_request: 400,
  invalid_json: 400,
  forbidden_json_key: 400,
  body_too_large: 413,
  unsupported_body: 415,
  outside_token_scope: 403,
  restricted: 403,
  rate_limited: 429,
  unavailable: 503,
};

/** The default message of each code: it says what failed and, where useful, what to do. Never a secret. */
export const GUARD_ERROR_MESSAGE: Readonly<Record<GuardErrorCode, string>> = {
  malformed: 'The Authorization header must carry exactly one well-formed API token (Bearer <token> or Basic base64(user:token)).',
  checksum: 'The API token is mistyped or truncated (its checksum does not match).',
  unknown: 'The API token is not known.',
  revoked: 'The API token has been revoked.',
  expired: 'The API token has expired.',
  user_mismatch: 'The API token does not belong to the user named in the Basic credentials.',
  user_required: 'This API token acts for any user: send it with HTTP Basic, the user name as the Basic user name.',
  policy: 'The API token no longer satisfies the token policy (for example its lifetime is now over the limit).',
  credentials_required: 'An API token is required.',
  ambiguous_request: 'The request path or query is ambiguous (encoded separators, dot segments, invalid escapes); send it in canonical form.',
  invalid_json: 'The request body is not valid JSON (or not a JSON object or array).',
  forbidden_json_key: 'The request body holds a prototype-poisoning key (__proto__ or constructor.prototype).',
  body_too_large: 'The request body is larger than the limit.',
  unsupported_body: 'The request body encoding or charset is not supported; send UTF-8 JSON.',
  outside_token_scope: "API tokens cannot be used for this path: it is outside the token guard's scope (the host sets it with tokenGuard's `scope` option).",
  restricted: 'The API token\'s restrictions do not allow this request.',
  rate_limited: 'Too many requests with this API token; retry later.',
  unavailable: 'The token service is unavailable; retry later.',
};

/** The JSON body of every tokenfence error response (SPEC §5), whatever part of tokenfence answers. */
export interface HttpErrorBody<Code extends string = string> {
  error: { status: number; code: Code; message: string; explanation?: string };
}

/**
 * An HTTP-shaped error of tokenfence: `status`, a stable `code`, a message that says what failed (never a
 * secret) and perhaps an explanation. Its JSON is the SPEC §5 error body. The guard, the session resource
 * and the XSRF check each have a subclass with their own codes, so `switch (err.code)` narrows.
 */
export class HttpError<Code extends string = string> extends Error {
  constructor(
    readonly status: number,
    readonly code: Code,
    message: string,
    readonly explanation?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toJSON(): HttpErrorBody<Code> {
    return {
      error: {
        status: this.status,
        code: this.code,
        message: this.message,
        ...(this.explanation !== undefined && { explanation: this.explanation }),
      },
    };
  }
}

/** The JSON body of the guard's error responses. */
export type GuardErrorBody = HttpErrorBody<GuardErrorCode>;

/**
 * An HTTP-shaped error of the guard: `status` and a stable `code`. Thrown inside the guard's pipeline and
 * written by the guard itself, not passed to the host's error handler (which might render a stack), unless
 * the guard's `handler` passes it on. The one exception is the method lock: a later middleware that switches
 * `req.method` to a forbidden method gets this error thrown at it (status 403, code `restricted`, no stack),
 * so the host's error handler answers.
 */
export class GuardError extends HttpError<GuardErrorCode> {
  constructor(code: GuardErrorCode, message: string = GUARD_ERROR_MESSAGE[code], explanation?: string) {
    super(GUARD_ERROR_STATUS[code], code, message, explanation);
    this.name = 'GuardError';
  }
}

/** Quotes a value for an auth-param (RFC 7235 quoted-string). */
export const quoteParam = (value: string): string => `"${value.replace(/["\\]/g, '\\$&')}"`;

/**
 * Writes `error` as the response: status, `Cache-Control: no-store`, the JSON body and any extra headers
 * (`WWW-Authenticate`, `Retry-After`). Does nothing when the headers are already sent.
 */
export function writeHttpError(res: ServerResponse, error: HttpError, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toJSON());
  res.statusCode = error.status;
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body);
}

/**
 * Answers a refusal of the guard, the session resource, the XSRF check or the management API: the default
 * JSON body, or the host's `handler` option (`runHandler` calls it) after the status, `headers` and
 * `Cache-Control: no-store` are set. The error loses its stack trace first (a development error page prints
 * `stack`). A handler that throws or rejects is reported, and the default body is written if the response
 * has not ended.
 */
export function answerRefusal(
  res: ServerResponse,
  error: HttpError,
  headers: Readonly<Record<string, string>>,
  runHandler: (() => unknown) | undefined,
  report: (error: unknown, context: string) => void,
): void {
  if (runHandler === undefined || res.headersSent) {
    writeHttpError(res, error, headers);
    return;
  }
  res.statusCode = error.status;
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.setHeader('Cache-Control', 'no-store');
  error.stack = `${error.name}: ${error.message}`;
  const fallBack = (err: unknown): void => {
    report(err, 'options.handler failed; the default error body was written');
    if (!res.writableEnded) writeHttpError(res, error, headers);
  };
  try {
    const result = runHandler();
    if (result instanceof Promise) result.catch(fallBack);
  } catch (err) {
    fallBack(err);
  }
}

/** The guard's name for {@link writeHttpError}. */
export const writeGuardError = writeHttpError;
