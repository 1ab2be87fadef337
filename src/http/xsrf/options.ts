// The options of xsrfProtection (SPEC §9) and their start-up check: a mistaken options object throws a
// TypeError naming the option and the fix; a valid one is compiled once into the configuration the checks read.
import type { AuditHook } from '../../audit/events.js';
import type { NextFunction, Request, Response } from 'express';
import type { KeyObject } from 'node:crypto';
import { checkFunction, checkKnownKeys } from '../../internal/options.js';
import type { XsrfError } from './errors.js';
import { FORM_TOKEN_FIELD, formTokenKeys, type XsrfSecret } from './form-token.js';

/** The default name of the header that opts a request out of the form-token rule (Jira's). */
export const DEFAULT_NO_CHECK_HEADER = 'X-Atlassian-Token';
/** The default name of the header that carries a form token, for scripts that send forms with `fetch`. */
export const DEFAULT_TOKEN_HEADER = 'X-Atlassian-Form-Token';

/** Options of {@link xsrfProtection}. */
export interface XsrfOptions {
  /**
   * The secret that signs form tokens: a string of at least 32 characters or a Buffer of at least 32 bytes,
   * from your configuration, not your source. Give an array to rotate: the first signs new tokens, every
   * one is accepted. Use a secret of its own, not express-session's.
   * @example secret: process.env.XSRF_SECRET
   * @example secret: [process.env.XSRF_SECRET, process.env.XSRF_SECRET_PREVIOUS]
   */
  secret: XsrfSecret | readonly XsrfSecret[];
  /**
   * The header whose value `no-check` (trimmed, any case) lets a request with a form-like body through
   * without a form token. A cross-site form cannot set a header, so scripts and REST clients use it.
   * It does not lift the `Sec-Fetch-Site` and `Origin`/`Referer` checks.
   * @default 'X-Atlassian-Token'
   */
  noCheckHeader?: string | undefined;
  /**
   * The header that may carry a form token, besides the `atl_token` body field and query parameter.
   * @default 'X-Atlassian-Form-Token'
   */
  tokenHeader?: string | undefined;
  /**
   * Refuse every unsafe session request, JSON included, that the browser marks `Sec-Fetch-Site: cross-site`.
   * `same-site` is not refused here (the `Origin` check covers a sibling subdomain).
   * @default true
   */
  checkFetchSite?: boolean | undefined;
  /**
   * Refuse every unsafe session request, JSON included, whose `Origin` (or, without `Origin`, `Referer`)
   * is not an allowed origin. `Origin: null` (sandboxed frames, some redirects) is never allowed. A request
   * with neither header, as from curl, gets only the content-type rule.
   * @default true
   */
  checkOrigin?: boolean | undefined;
  /**
   * The allowed origins (`scheme://host[:port]`), replacing the default: list your own origin too. Give them
   * when a proxy in front changes the scheme or the Host header and `trust proxy` cannot say what the
   * browser used, or when other origins of yours post to this app.
   * @default the request's own origin, `req.protocol + '://' + Host` (`req.protocol` honours
   *   `X-Forwarded-Proto` only with Express's `trust proxy` setting; the Host header is used as received)
   * @example allowedOrigins: ['https://jira.example.com', 'https://admin.example.com']
   */
  allowedOrigins?: string | readonly string[] | undefined;
  /**
   * Receives an `xsrf.denied` event for every refusal (its reason names the check: `fetch-site`, `origin`,
   * `referer` or `form-token`): pass the same hook as the guard's `audit`. Events never hold a form token or a
   * session id (the path is logged without its query).
   */
  audit?: AuditHook | undefined;
  /**
   * Answers a refusal in the app's own format, as the guard's `handler` does. It gets the {@link XsrfError}
   * (`status` 403, `code`, `message`, `explanation`, `check`; no stack trace) after the status and
   * `Cache-Control: no-store` are set. Pass it on with `(err, req, res, next) => next(err)` to use your
   * error-handling middleware. A handler that throws or rejects is reported to `console.error` and the
   * default answer is written.
   * @default writes the SPEC §5 JSON error body
   */
  handler?: ((error: XsrfError, req: Request, res: Response, next: NextFunction) => void | Promise<void>) | undefined;
}

/** {@link XsrfOptions}, checked and compiled. */
export interface XsrfConfig {
  readonly keys: readonly KeyObject[];
  /** Lower case, as Node keys `req.headers`. */
  readonly noCheckHeader: string;
  readonly tokenHeader: string;
  readonly checkFetchSite: boolean;
  readonly checkOrigin: boolean;
  /** Serialized origins; undefined means the request's own origin. */
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly handler: XsrfOptions['handler'];
  readonly audit: AuditHook | undefined;
  /** The explanations of the form-token refusal, worded once with the configured header names. */
  readonly explainMissingToken: string;
  readonly explainInvalidToken: string;
}

const KNOWN_OPTIONS = Object.freeze(['secret', 'noCheckHeader', 'tokenHeader', 'checkFetchSite', 'checkOrigin', 'allowedOrigins', 'audit', 'handler']);

const TOKEN_SOURCES = `the ${FORM_TOKEN_FIELD} body field or query parameter, or the tokenHeader header`;

/** What users of csrf-csrf, csurf and the guard write, and what it is here. */
const OTHER_LIBRARIES: Readonly<Record<string, string>> = {
  getSecret: 'give the secret itself as `secret` (an array of secrets, newest first, to rotate)',
  secrets: 'the option is `secret`; it takes one secret or an array of them, newest first',
  cookieName: 'form tokens are signed with the session id (req.sessionID), not kept in a cookie: there is no cookie to name',
  cookieOptions: 'form tokens are signed with the session id (req.sessionID), not kept in a cookie: there are no cookie options',
  cookie: 'form tokens are signed with the session id (req.sessionID), not kept in a cookie: there are no cookie options',
  sessionKey: 'the session is express-session\'s req.session, and the login is req.session.tokenfence; nothing to configure',
  getSessionIdentifier: 'form tokens are bound to express-session\'s req.sessionID, which login regenerates; nothing to configure',
  ignoredMethods: 'GET, HEAD and OPTIONS are never checked and every other method is (fail closed); this is not configurable',
  getCsrfTokenFromRequest: `the token is read from ${TOKEN_SOURCES}; rename the header with tokenHeader`,
  getTokenFromRequest: `the token is read from ${TOKEN_SOURCES}; rename the header with tokenHeader`,
  value: `the token is read from ${TOKEN_SOURCES}; rename the header with tokenHeader`,
  headerName: 'the opt-out header is `noCheckHeader` and the form-token header is `tokenHeader`',
  size: 'form tokens carry 18 random bytes and an HMAC-SHA256; this is not configurable',
  hmacAlgorithm: 'form tokens are signed with HMAC-SHA256; this is not configurable',
  skipCsrfProtection: 'requests the guard authenticated (req.tokenfence) and requests without a session login are never checked; to skip more, mount xsrfProtection only where it applies',
  errorConfig: 'the status and code are fixed (403 xsrf_check_failed); give a handler to answer in your own format',
  message: 'the error body is fixed (SPEC §5); give a handler to answer in your own format',
  statusCode: 'the status is fixed (403); give a handler to answer in your own format',
  trustedOrigins: 'the option is `allowedOrigins`',
  origins: 'the option is `allowedOrigins`',
  origin: 'the option is `allowedOrigins`',
  tokenField: `the field and query parameter are always ${FORM_TOKEN_FIELD}, as in Jira; a script can use the tokenHeader header instead`,
};

/** An HTTP field name (RFC 9110 token). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function headerName(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !FIELD_NAME.test(value)) throw new TypeError(`${name} must be an HTTP header name such as ${JSON.stringify(fallback)}`);
  return value;
}

/** A configured origin in serialized form, or a TypeError that says what an origin looks like. */
function serializedOrigin(name: string, value: unknown): string {
  const fix = `${name} must be an origin such as "https://jira.example.com" or "http://localhost:3000" (scheme, host and port only)`;
  if (typeof value !== 'string') throw new TypeError(`${fix}, got ${value === null ? 'null' : typeof value}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${fix}, got ${JSON.stringify(value)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/' || value.endsWith('/')) {
    throw new TypeError(`${fix}, got ${JSON.stringify(value)}`);
  }
  return url.origin;
}

/** Checks `options` (a TypeError naming the option on a mistake) and compiles them. */
export function compileXsrfOptions(options: XsrfOptions): XsrfConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('xsrfProtection needs an options object: xsrfProtection({ secret })');
  checkKnownKeys('xsrfProtection', options, KNOWN_OPTIONS, OTHER_LIBRARIES);
  const keys = formTokenKeys('xsrfProtection: options.secret', options.secret);
  const noCheckName = headerName('xsrfProtection: options.noCheckHeader', options.noCheckHeader, DEFAULT_NO_CHECK_HEADER);
  const tokenName = headerName('xsrfProtection: options.tokenHeader', options.tokenHeader, DEFAULT_TOKEN_HEADER);
  if (noCheckName.toLowerCase() === tokenName.toLowerCase()) throw new TypeError('xsrfProtection: options.noCheckHeader and options.tokenHeader must be different headers');
  for (const key of ['checkFetchSite', 'checkOrigin'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`xsrfProtection: options.${key} must be a boolean`);
  }
  checkFunction('xsrfProtection: options.handler', options.handler);
  checkFunction('xsrfProtection: options.audit', options.audit);
  const checkOrigin = options.checkOrigin !== false;
  let allowedOrigins: ReadonlySet<string> | undefined;
  if (options.allowedOrigins !== undefined) {
    if (!checkOrigin) throw new TypeError('xsrfProtection: options.allowedOrigins has no effect with checkOrigin: false; drop one of them');
    const list: readonly unknown[] = typeof options.allowedOrigins === 'string' ? [options.allowedOrigins] : Array.isArray(options.allowedOrigins) ? options.allowedOrigins : [options.allowedOrigins];
    if (list.length === 0) throw new TypeError('xsrfProtection: options.allowedOrigins must list at least one origin (your own included); to allow any origin, set checkOrigin: false');
    allowedOrigins = new Set(list.map((o, i) => serializedOrigin(`xsrfProtection: options.allowedOrigins${typeof options.allowedOrigins === 'string' ? '' : `[${i}]`}`, o)));
  }
  return {
    keys,
    noCheckHeader: noCheckName.toLowerCase(),
    tokenHeader: tokenName.toLowerCase(),
    checkFetchSite: options.checkFetchSite !== false,
    checkOrigin,
    allowedOrigins,
    handler: options.handler,
    audit: options.audit,
    explainMissingToken:
      `A request with the session cookie and a body a cross-site form could send (form-encoded, multipart, text/plain or no Content-Type) ` +
      `needs the header "${noCheckName}: no-check" or a valid form token (the ${FORM_TOKEN_FIELD} body field or query parameter, or the ${tokenName} header).`,
    explainInvalidToken: `The form token (${FORM_TOKEN_FIELD}) is not valid for this session: form tokens are bound to the session and renewed at login; reload the page for a fresh one.`,
  };
}

