// The session resource's coded errors (SPEC §8), in the SPEC §5 error body, with Jira's login reasons.
import { HttpError } from '../errors.js';

/** Every code the session resource and the stale-cookie check answer with. */
export type SessionErrorCode =
  | 'unsupported_media_type'
  | 'invalid_login_body'
  | 'login_failed'
  | 'captcha_required'
  | 'login_rate_limited'
  | 'not_logged_in'
  | 'session_expired'
  | 'unavailable';

/** Jira's `X-Seraph-LoginReason` values. */
export type LoginReason = 'OK' | 'AUTHENTICATED_FAILED' | 'AUTHENTICATION_DENIED' | 'OUT';

const STATUS: Readonly<Record<SessionErrorCode, number>> = {
  unsupported_media_type: 415,
  invalid_login_body: 400,
  login_failed: 401,
  captcha_required: 403,
  login_rate_limited: 429,
  not_logged_in: 401,
  session_expired: 401,
  unavailable: 503,
};

/** The default message of each code; never a secret, and the same for an unknown user and a wrong password. */
export const SESSION_ERROR_MESSAGE: Readonly<Record<SessionErrorCode, string>> = {
  unsupported_media_type: 'Log in with a JSON body: Content-Type: application/json and {"username": "…", "password": "…"}.',
  invalid_login_body: 'The login body must be a JSON object {"username": "…", "password": "…"}.',
  login_failed: 'Login failed: the user name or the password is wrong.',
  captcha_required: 'This account needs a CAPTCHA after too many failed logins: log in through the login page.',
  login_rate_limited: 'Too many failed logins from this address; retry later.',
  not_logged_in: 'You are not logged in.',
  session_expired: 'Your session has expired or is no longer known: log in again.',
  unavailable: 'The session service is unavailable; retry later.',
};

/** The `X-Seraph-LoginReason` each code answers with (the reason of a refused login; none for the others). */
export const LOGIN_REASON: Readonly<Partial<Record<SessionErrorCode, LoginReason>>> = {
  login_failed: 'AUTHENTICATED_FAILED',
  captcha_required: 'AUTHENTICATION_DENIED',
  login_rate_limited: 'AUTHENTICATION_DENIED',
};

/** An error of the session resource or the stale-cookie check: `status`, a stable `code`, no stack trace. */
export class SessionError extends HttpError<SessionErrorCode> {
  constructor(code: SessionErrorCode, message: string = SESSION_ERROR_MESSAGE[code], explanation?: string) {
    super(STATUS[code], code, message, explanation);
    this.name = 'SessionError';
    this.stack = `${this.name}: ${this.message}`;
  }
}
