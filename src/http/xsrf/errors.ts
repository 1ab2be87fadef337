// The coded error of a refused XSRF check: always 403 `xsrf_check_failed`, with an explanation that names
// the check that failed (never a token, a secret or a header value).
import { HttpError } from '../errors.js';

/** The one code of the XSRF check. */
export type XsrfErrorCode = 'xsrf_check_failed';

/**
 * Which check refused the request:
 * - `fetch-site`: `Sec-Fetch-Site: cross-site`;
 * - `origin`: an `Origin` outside the allowed origins (`Origin: null` included);
 * - `referer`: without `Origin`, a `Referer` outside the allowed origins;
 * - `form-token`: a body a cross-site form could send, without `X-Atlassian-Token: no-check` or a valid form token.
 */
export type XsrfCheck = 'fetch-site' | 'origin' | 'referer' | 'form-token';

/** The message of every XSRF refusal, as Jira words it. */
export const XSRF_ERROR_MESSAGE = 'XSRF check failed';

/**
 * A refused XSRF check: status 403, code `xsrf_check_failed`, message `XSRF check failed`, an explanation
 * of the check that failed, and that check as `check`. It carries no stack trace (a development error page
 * prints `stack`), so it can be passed to the host's error handler as it is.
 */
export class XsrfError extends HttpError<XsrfErrorCode> {
  /** The check that refused the request. */
  readonly check: XsrfCheck;

  constructor(check: XsrfCheck, explanation: string) {
    super(403, 'xsrf_check_failed', XSRF_ERROR_MESSAGE, explanation);
    this.name = 'XsrfError';
    this.check = check;
    this.stack = `${this.name}: ${this.message}`;
  }
}
