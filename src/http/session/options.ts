// The options of sessionRouter (SPEC §8), and the start-up check that refuses a mistaken options object with
// a TypeError naming the option.
import type { NextFunction, Request, Response } from 'express';
import { checkFunction, checkKnownKeys, checkNumber } from '../../internal/options.js';
import type { AuditHook } from '../../audit/events.js';
import type { SessionError } from './errors.js';
import type { SessionStorage } from './storage.js';

/** A user as the host's lookup returns it, for tokenfence to check the password. */
export interface SessionUser {
  /** The user's name as the app knows it (it becomes the session's user). */
  readonly name: string;
  /** The hash from {@link hashPassword}. */
  readonly passwordHash: string;
}

/** What a session holds for tokenfence (in express-session's `req.session.tokenfence`). */
export interface TokenfenceSessionData {
  /** The user the session acts as. */
  user: string;
  /** When the user logged in (ms since the epoch): the absolute timeout counts from here. */
  loginAt: number;
}

declare module 'express-session' {
  interface SessionData {
    /** Set by tokenfence's session resource at login. */
    tokenfence?: TokenfenceSessionData;
  }
}

/** Options of {@link sessionRouter}. */
export interface SessionOptions {
  /** Where sessions, login counters and login history live: `memorySessionStorage()`, `sqliteSessionStorage(file)` or `postgresSessionStorage(pool)`. */
  storage: SessionStorage;
  /**
   * The key that signs the session cookie (express-session's `secret`): at least 32 characters, such as
   * `crypto.randomBytes(32).toString('base64url')`. An array rotates keys: the first signs, all verify.
   */
  secret: string | readonly string[];
  /**
   * Checks a password with the host's own user directory. It must take about as long for an unknown user
   * as for a wrong password (check against a dummy hash), or a caller can tell which names exist.
   * Give this or `findUser`, not both.
   */
  verifyPassword?: ((username: string, password: string, req: Request) => boolean | Promise<boolean>) | undefined;
  /**
   * Looks a user up by the name as sent; tokenfence checks the password against its `passwordHash` (from
   * {@link hashPassword}), and checks an unknown user against a dummy hash so that both failures look and
   * take the same. Give this or `verifyPassword`, not both.
   */
  findUser?: ((username: string) => SessionUser | null | undefined | Promise<SessionUser | null | undefined>) | undefined;
  /** The session cookie's name. @default 'JSESSIONID' */
  cookieName?: string | undefined;
  /**
   * The cookie's `Secure` attribute: `true`, `false`, or `'auto'` (set when the request came over HTTPS, as
   * `req.secure` says; behind a proxy that needs the app's `trust proxy`). `false` in production warns once.
   * @default 'auto'
   */
  secure?: boolean | 'auto' | undefined;
  /** A session unused for this long ends (the cookie and the stored session expire). @default 1800000 (30 minutes) */
  idleTimeoutMs?: number | undefined;
  /** A session ends this long after login, however busy. @default 28800000 (8 hours) */
  absoluteTimeoutMs?: number | undefined;
  /** Consecutive failed logins of one account after which it needs a CAPTCHA. @default 3 (Jira's default) */
  maxFailedLogins?: number | undefined;
  /** How long failed logins are remembered, in seconds: after this long without a failure, the count starts again. @default 86400 (a day) */
  failedLoginWindowSeconds?: number | undefined;
  /**
   * Checks a CAPTCHA answer (`captcha` in the login body) for an account that needs one. Without it, such an
   * account can log in again only after `failedLoginWindowSeconds` or `resetFailedLogins(user)`.
   */
  verifyCaptcha?: ((answer: string, req: Request) => boolean | Promise<boolean>) | undefined;
  /** Where a person solves the CAPTCHA; named in `X-Authentication-Denied-Reason`. @default '/login' */
  loginUrl?: string | undefined;
  /**
   * Failed logins one client address may make per `duration` seconds, across all accounts (slow password
   * spraying); then 429 with `Retry-After`. `false` turns it off. @default { points: 30, duration: 900 }
   */
  ipLimit?: { points: number; duration: number } | false | undefined;
  /**
   * Path prefixes where a request with an unknown or expired session cookie gets 401 `session_expired`
   * instead of going on as anonymous. @default ['/rest']
   */
  paths?: string | readonly string[] | undefined;
  /** Where the host mounts the session resource: it stays reachable with a stale cookie. @default '/rest/auth/1/session' */
  resourcePath?: string | undefined;
  /** The `self` link of `GET` (Jira's user resource). @default `<origin>/rest/api/2/user?username=<name>` */
  userUrl?: ((name: string, req: Request) => string) | undefined;
  /**
   * Receives `session.login`, `session.login_failed`, `session.login_denied` (a CAPTCHA needed, or the
   * address over its limit) and `session.logout` events: pass the same hook as the guard's `audit`. Events
   * name the user (as sent, for a failure) and never hold a password or a session id.
   */
  audit?: AuditHook | undefined;
  /** Answers refusals in the app's own format, as the guard's `handler` does. @default writes the SPEC §5 JSON error body */
  handler?: ((error: SessionError, req: Request, res: Response, next: NextFunction) => void) | undefined;
  /** Reports internal errors (a store down, a failing hook); their details never reach a response. @default the message to `console.error` */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

const KNOWN = Object.freeze([
  'storage',
  'secret',
  'verifyPassword',
  'findUser',
  'cookieName',
  'secure',
  'idleTimeoutMs',
  'absoluteTimeoutMs',
  'maxFailedLogins',
  'failedLoginWindowSeconds',
  'verifyCaptcha',
  'loginUrl',
  'ipLimit',
  'paths',
  'resourcePath',
  'userUrl',
  'audit',
  'handler',
  'onError',
]);

/** What users of express-session and similar libraries write, and what it is here. */
const OTHER_LIBRARIES: Readonly<Record<string, string>> = {
  store: 'express-session\'s "store" is "storage" here: memorySessionStorage(), sqliteSessionStorage(file) or postgresSessionStorage(pool)',
  name: 'express-session\'s "name" is "cookieName" here',
  cookie: 'the cookie is HttpOnly, SameSite=Lax, Path=/ by design; "secure" and "idleTimeoutMs" set the rest',
  rolling: 'sessions always roll: each request moves the idle timeout',
  maxAge: 'use "idleTimeoutMs" and "absoluteTimeoutMs" (milliseconds)',
  resave: 'tokenfence sets express-session\'s resave and saveUninitialized itself (false)',
  saveUninitialized: 'tokenfence sets express-session\'s resave and saveUninitialized itself (false)',
  freeRetries: 'brute-force protection is "maxFailedLogins" (then a CAPTCHA) and "ipLimit"',
};

const MINUTE = 60_000;
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

/** Throws a TypeError that names the option when `options` is not valid {@link SessionOptions}. */
export function checkSessionOptions(options: SessionOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('sessionRouter needs an options object: sessionRouter({ storage, secret, verifyPassword })');
  checkKnownKeys('sessionRouter', options, KNOWN, OTHER_LIBRARIES);
  const storage = options.storage as Partial<SessionStorage> | undefined;
  if (typeof storage !== 'object' || storage === null || typeof storage.limiter !== 'function' || typeof storage.sessionStore !== 'object' || typeof storage.loginInfo !== 'object') {
    throw new TypeError('sessionRouter: options.storage must be a session storage: memorySessionStorage(), sqliteSessionStorage(file) or postgresSessionStorage(pool)');
  }
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (!Array.isArray(secrets) || secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 32)) {
    throw new TypeError("sessionRouter: options.secret must be a string of at least 32 characters (or an array of them), such as crypto.randomBytes(32).toString('base64url')");
  }
  if ((options.verifyPassword === undefined) === (options.findUser === undefined)) {
    throw new TypeError('sessionRouter: give exactly one of options.verifyPassword (username, password) => boolean and options.findUser (username) => { name, passwordHash }');
  }
  for (const key of ['verifyPassword', 'findUser', 'verifyCaptcha', 'userUrl', 'audit', 'handler', 'onError'] as const) checkFunction(`sessionRouter: options.${key}`, options[key]);
  if (options.cookieName !== undefined && (typeof options.cookieName !== 'string' || !COOKIE_NAME.test(options.cookieName))) {
    throw new TypeError('sessionRouter: options.cookieName must be a cookie name (letters, digits and !#$%&\'*+.^_`|~-), such as JSESSIONID');
  }
  if (options.secure !== undefined && typeof options.secure !== 'boolean' && options.secure !== 'auto') throw new TypeError("sessionRouter: options.secure must be true, false or 'auto'");
  checkNumber('sessionRouter: options.idleTimeoutMs', options.idleTimeoutMs, { min: MINUTE, max: 2 ** 31 - 1, integer: true, unit: 'milliseconds' });
  checkNumber('sessionRouter: options.absoluteTimeoutMs', options.absoluteTimeoutMs, { min: MINUTE, max: 366 * 24 * 60 * MINUTE, integer: true, unit: 'milliseconds' });
  if (options.idleTimeoutMs !== undefined && options.absoluteTimeoutMs !== undefined && options.idleTimeoutMs > options.absoluteTimeoutMs) {
    throw new TypeError('sessionRouter: options.idleTimeoutMs is longer than options.absoluteTimeoutMs; the absolute timeout would always end sessions first');
  }
  checkNumber('sessionRouter: options.maxFailedLogins', options.maxFailedLogins, { min: 1, max: 1000, integer: true, unit: 'failed logins' });
  checkNumber('sessionRouter: options.failedLoginWindowSeconds', options.failedLoginWindowSeconds, { min: 1, max: 366 * 24 * 3600, integer: true, unit: 'seconds' });
  if (options.ipLimit !== undefined && options.ipLimit !== false) {
    if (typeof options.ipLimit !== 'object' || options.ipLimit === null) throw new TypeError('sessionRouter: options.ipLimit must be { points, duration } or false');
    checkKnownKeys('sessionRouter: options.ipLimit', options.ipLimit, ['points', 'duration'], { max: '"points" (failed logins per window)', windowMs: '"duration", in seconds' });
    for (const key of ['points', 'duration'] as const) {
      if (options.ipLimit[key] === undefined) throw new TypeError(`sessionRouter: options.ipLimit.${key} is required: { points: failed logins per window, duration: the window in seconds }`);
    }
    checkNumber('sessionRouter: options.ipLimit.points', options.ipLimit.points, { min: 1, max: 1_000_000, integer: true, unit: 'failed logins' });
    checkNumber('sessionRouter: options.ipLimit.duration', options.ipLimit.duration, { min: 1, max: 366 * 24 * 3600, integer: true, unit: 'seconds' });
  }
  for (const key of ['loginUrl', 'resourcePath'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || !value.startsWith('/') && !/^https?:\/\//.test(value) || /[\x00-\x20\x7f;,]/.test(value))) {
      throw new TypeError(`sessionRouter: options.${key} must be a path such as '/login' (or an http(s) URL), without spaces, ';' or ','`);
    }
  }
  const paths = typeof options.paths === 'string' ? [options.paths] : options.paths;
  if (paths !== undefined && (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || !p.startsWith('/')))) {
    throw new TypeError("sessionRouter: options.paths must be a path prefix or an array of them, such as ['/rest']");
  }
}
