// sessionRouter (SPEC §8): Jira's cookie-session resource on express-session — login with brute-force
// protection (a CAPTCHA per account after failed logins, a limit per client address), the current user,
// logout — and the app-wide middleware that loads sessions, ends them on their timeouts and answers a stale
// cookie under /rest with 401 instead of anonymous access.
import type { Request, RequestHandler, Response, Router } from 'express';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import { parse as parseContentType } from 'content-type';
import { logErrorToConsole } from '../../internal/report.js';
import type { AuditEventType } from '../../audit/events.js';
import { answerRefusal } from '../errors.js';
import { emitEvent, requestEvent } from '../request-event.js';
import { LOGIN_REASON, SessionError, type LoginReason, type SessionErrorCode } from './errors.js';
import { checkSessionOptions, type SessionOptions, type SessionUser } from './options.js';
import { hashPassword, verifyPasswordHash } from './password.js';
import type { LoginInfo } from './storage.js';

export type { SessionOptions, SessionUser, TokenfenceSessionData } from './options.js';

/** The session resource, to mount where Jira has it, with the app-wide middleware it needs. */
export interface SessionRouter extends Router {
  /**
   * Mount app-wide, after the token guard and before the routes: loads the session of the cookie, ends it
   * on its timeouts, and answers a request under `paths` whose cookie names no live session with 401
   * `session_expired`. A request the guard authenticated with a token is left alone (its cookie is ignored).
   */
  readonly middleware: RequestHandler;
  /** Forgets an account's failed logins, so it no longer needs a CAPTCHA (an administrator's action). */
  resetFailedLogins(username: string): Promise<void>;
}

/** Who made a request and how: a token (as the guard authenticated it) or the session cookie. */
export interface Caller {
  readonly user: string;
  readonly via: 'bearer' | 'basic' | 'session';
}

/**
 * Who the caller is: the token's user when the guard authenticated the request with a token (the cookie is
 * then ignored), else the session's user, else undefined (anonymous).
 */
export function callerOf(req: Request): Caller | undefined {
  // The guard sets `tokenfence` on the request itself: an own-property test, not a prototype-chain walk.
  const principal = Object.hasOwn(req, 'tokenfence') ? req.tokenfence : undefined;
  if (principal !== undefined) return { user: principal.user, via: principal.via };
  const user = (req as { session?: { tokenfence?: { user?: unknown } } }).session?.tokenfence?.user;
  return typeof user === 'string' && user !== '' ? { user, via: 'session' } : undefined;
}

/** The account a name counts against: case and Unicode compatibility forms folded (`Ａlice` is `alice`). */
export const accountKey = (username: string): string => username.normalize('NFKC').toLowerCase();

const LOGIN_SCHEMA = {
  type: 'object',
  required: ['username', 'password'],
  properties: {
    // No control or line-separator characters: the name reaches audit lines, and one must not forge another.
    username: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]+$' },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    captcha: { type: 'string', minLength: 1, maxLength: 1024 },
  },
  additionalProperties: false,
} as const;

interface LoginBody {
  username: string;
  password: string;
  captcha?: string;
}

const isLimitHit = (r: unknown): r is RateLimiterRes => typeof r === 'object' && r !== null && !(r instanceof Error) && typeof (r as RateLimiterRes).msBeforeNext === 'number';

/**
 * Counts one attempt for `key`: undefined while within the limit, the limiter's answer once over it (the
 * attempt is still counted). A store error is thrown.
 */
async function reserve(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | undefined> {
  try {
    await limiter.consume(key);
    return undefined;
  } catch (rejection) {
    if (!isLimitHit(rejection)) throw rejection;
    return rejection;
  }
}

const iso = (d: Date | null): string | undefined => (d === null ? undefined : d.toISOString());
const loginInfoBody = (info: LoginInfo) => ({
  loginCount: info.loginCount,
  failedLoginCount: info.failedLoginCount,
  lastFailedLoginTime: iso(info.lastFailedLoginTime),
  previousLoginTime: iso(info.previousLoginTime),
});

let insecureWarned = false;

/**
 * Creates the session resource and its middleware. Everything is validated here; a mistake throws a
 * `TypeError` that names the option.
 *
 * @example
 * const sessions = sessionRouter({ storage: sqliteSessionStorage('data/sessions.db'), secret, verifyPassword });
 * app.use(tokenGuard({ tokens }));
 * app.use(sessions.middleware);
 * app.use('/rest/auth/1/session', sessions);
 */
export function sessionRouter(options: SessionOptions): SessionRouter {
  checkSessionOptions(options);
  const express = require('express') as typeof import('express');
  const expressSession = require('express-session') as typeof import('express-session');
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const storage = options.storage;
  const cookieName = options.cookieName ?? 'JSESSIONID';
  const secure = options.secure ?? 'auto';
  const idleTimeoutMs = options.idleTimeoutMs ?? 30 * 60_000;
  const absoluteTimeoutMs = options.absoluteTimeoutMs ?? 8 * 3_600_000;
  const maxFailedLogins = options.maxFailedLogins ?? 3;
  const loginUrl = options.loginUrl ?? '/login';
  const resourcePath = (options.resourcePath ?? '/rest/auth/1/session').replace(/\/+$/, '');
  const paths = (typeof options.paths === 'string' ? [options.paths] : options.paths ?? ['/rest']).map((p) => p.replace(/\/+$/, ''));
  const onError = options.onError ?? logErrorToConsole;
  const report = (error: unknown, context: string): void => {
    try {
      onError(error, context);
    } catch {
      // Nothing left to tell it to.
    }
  };
  if (secure === false && process.env.NODE_ENV === 'production' && !insecureWarned) {
    insecureWarned = true;
    process.emitWarning('tokenfence: the session cookie is sent without Secure in production (sessionRouter({ secure: false })); it can leak over plain HTTP', { code: 'TOKENFENCE_INSECURE_COOKIE' });
  }

  const accounts = storage.limiter({ keyPrefix: 'tf_login_account', points: maxFailedLogins, duration: options.failedLoginWindowSeconds ?? 86_400 });
  const ipLimit = options.ipLimit === false ? undefined : (options.ipLimit ?? { points: 30, duration: 900 });
  const addresses = ipLimit === undefined ? undefined : storage.limiter({ keyPrefix: 'tf_login_ip', points: ipLimit.points, duration: ipLimit.duration });
  const validate = new Ajv({ allErrors: false }).compile<LoginBody>(LOGIN_SCHEMA);
  const parseJson = express.json({ limit: '16kb', strict: true, type: () => true });

  // An unknown user is checked against a hash of a random password, so that it takes what a wrong password takes.
  const dummyHash = options.findUser === undefined ? undefined : hashPassword(randomBytes(24).toString('base64url'));
  const checkPassword = async (username: string, password: string, req: Request): Promise<string | undefined> => {
    if (options.verifyPassword !== undefined) return (await options.verifyPassword(username, password, req)) === true ? username : undefined;
    const user = (await options.findUser!(username)) as SessionUser | null | undefined;
    const known = typeof user === 'object' && user !== null && typeof user.name === 'string' && typeof user.passwordHash === 'string';
    const matches = await verifyPasswordHash(password, known ? user.passwordHash : await dummyHash!);
    return known && matches ? user.name : undefined;
  };

  const sessionMiddleware = expressSession({
    name: cookieName,
    secret: typeof options.secret === 'string' ? options.secret : [...options.secret],
    store: storage.sessionStore,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    cookie: { httpOnly: true, sameSite: 'lax', path: '/', secure, maxAge: idleTimeoutMs },
  });

  const audit = (req: Request, type: AuditEventType, user: string, status: number, reasonCode?: SessionErrorCode): void =>
    emitEvent(options.audit, () => requestEvent(type, req, { user, via: 'session', outcome: reasonCode === undefined ? 'success' : 'failure', reason: reasonCode, status }), report);

  /** Sets the login reason and `Cache-Control: no-store` on every answer of the resource. */
  const reason = (res: Response, value: LoginReason): void => {
    res.setHeader('X-Seraph-LoginReason', value);
    res.setHeader('Cache-Control', 'no-store');
  };

  const refuse = (req: Request, res: Response, next: (err?: unknown) => void, code: SessionErrorCode, headers: Record<string, string> = {}): void => {
    const error = new SessionError(code);
    const loginReason = LOGIN_REASON[code];
    if (loginReason !== undefined) reason(res, loginReason);
    const handler = options.handler;
    answerRefusal(res, error, headers, handler && (() => handler(error, req, res, next)), report);
  };

  const clearCookie = (res: Response): void => {
    res.clearCookie(cookieName, { httpOnly: true, sameSite: 'lax', path: '/', secure: secure === true });
  };

  // Matched in any case unless the app routes case-sensitively (Express's default is not to): `/REST/…` reaches
  // the same routes as `/rest/…`, so it must get the same 401.
  const lowerPaths = paths.map((p) => p.toLowerCase());
  const lowerResource = resourcePath.toLowerCase();
  const underPaths = (path: string, exact: boolean): boolean => (exact ? paths : lowerPaths).some((p) => path === p || path.startsWith(`${p}/`));
  const isResource = (path: string, exact: boolean): boolean => {
    const resource = exact ? resourcePath : lowerResource;
    return path === resource || path === `${resource}/`;
  };

  /** Whether the request sent the session cookie; the header is parsed only when it names the cookie at all. */
  const sentCookie = (req: Request): boolean => {
    const header = req.headers.cookie;
    return header !== undefined && header.includes(cookieName) && parseCookies(header)[cookieName] !== undefined;
  };

  const middleware: RequestHandler = (req, res, next) => {
    // A token call is authenticated by the token alone; a request whose session is loaded already (the
    // middleware mounted app-wide, then again by the router) is not loaded twice. Both are set on the request
    // itself; an own-property test spares the prototype-chain walk a missing property costs on every request.
    if (Object.hasOwn(req, 'tokenfence') || Object.hasOwn(req, 'session')) {
      next();
      return;
    }
    sessionMiddleware(req, res, (err?: unknown) => {
      if (err !== undefined) {
        report(err, 'the session store failed; the request was refused with 503');
        refuse(req, res, next, 'unavailable');
        return;
      }
      const data = req.session?.tokenfence;
      if (data === undefined) {
        // A cookie that names no logged-in session is stale (no cookie is set before login).
        if (sentCookie(req)) stale();
        else next();
        return;
      }
      if (Date.now() - data.loginAt > absoluteTimeoutMs) {
        // Past the absolute timeout: the session ends however busy it was.
        req.session.destroy((destroyErr: unknown) => {
          if (destroyErr !== undefined && destroyErr !== null) report(destroyErr, 'an expired session could not be destroyed');
          stale();
        });
        return;
      }
      next();
    });
    function stale(): void {
      const exact = req.app?.get('case sensitive routing') === true;
      const raw = req.originalUrl.split('?', 1)[0]!;
      const path = exact ? raw : raw.toLowerCase();
      if (underPaths(path, exact) && !isResource(path, exact)) {
        clearCookie(res);
        refuse(req, res, next, 'session_expired');
        return;
      }
      next();
    }
  };

  const router = express.Router() as SessionRouter;
  router.use(middleware);

  router.post('/', (req, res, next) => {
    let type: string | undefined;
    try {
      type = req.headers['content-type'] === undefined ? undefined : parseContentType(req.headers['content-type']).type;
    } catch {
      type = undefined;
    }
    // JSON only: a cross-site form (urlencoded, multipart, text/plain) cannot log a victim in as the attacker.
    if (type !== 'application/json') {
      reason(res, 'AUTHENTICATED_FAILED');
      refuse(req, res, next, 'unsupported_media_type');
      return;
    }
    const body = req.body as unknown;
    if (body !== undefined && (req as { _body?: boolean })._body === true) {
      login(req, res, next, body);
      return;
    }
    parseJson(req, res, (err?: unknown) => {
      if (err !== undefined) {
        reason(res, 'AUTHENTICATED_FAILED');
        refuse(req, res, next, 'invalid_login_body');
        return;
      }
      login(req, res, next, req.body);
    });
  });

  const login = (req: Request, res: Response, next: (err?: unknown) => void, body: unknown): void => {
    if (!validate(body)) {
      reason(res, 'AUTHENTICATED_FAILED');
      refuse(req, res, next, 'invalid_login_body');
      return;
    }
    attempt(req, res, next, body).catch((err: unknown) => {
      report(err, 'a login failed on the way; it was refused with 503');
      reason(res, 'AUTHENTICATED_FAILED');
      refuse(req, res, next, 'unavailable');
    });
  };

  const attempt = async (req: Request, res: Response, next: (err?: unknown) => void, body: LoginBody): Promise<void> => {
    const key = accountKey(body.username);
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // Every attempt is counted before its password is checked, and atomically by the store: attempts made in
    // parallel cannot all read the count from before any of them (a success gives its count back). Counting
    // failures after the check let a burst of guesses through before the first was counted.
    if (addresses !== undefined) {
      const over = await reserve(addresses, ip);
      if (over !== undefined) {
        audit(req, 'session.login_denied', body.username, 429, 'login_rate_limited');
        refuse(req, res, next, 'login_rate_limited', { 'Retry-After': String(Math.max(1, Math.ceil(over.msBeforeNext / 1000))) });
        return;
      }
    }
    if ((await reserve(accounts, key)) !== undefined) {
      // The password is not checked: guessing goes no further until a person solves the CAPTCHA.
      const solved = body.captcha !== undefined && options.verifyCaptcha !== undefined && (await options.verifyCaptcha(body.captcha, req)) === true;
      if (!solved) {
        audit(req, 'session.login_denied', body.username, 403, 'captcha_required');
        refuse(req, res, next, 'captcha_required', { 'X-Authentication-Denied-Reason': `CAPTCHA_CHALLENGE; login-url=${loginUrl}` });
        return;
      }
    }
    const user = await checkPassword(body.username, body.password, req);
    const now = new Date();
    if (user === undefined) {
      // Not awaited: the history is written only for an account that logged in before, and waiting for that
      // write would make a known name answer later than an unknown one.
      storage.loginInfo.recordFailure(key, now).catch((err: unknown) => report(err, 'a failed login could not be recorded in the login history'));
      audit(req, 'session.login_failed', body.username, 401, 'login_failed');
      refuse(req, res, next, 'login_failed');
      return;
    }
    await Promise.all([accounts.delete(key), addresses === undefined ? undefined : addresses.reward(ip, 1)]);
    // The history of the account the password opened (findUser may know it under another spelling).
    const info = await storage.loginInfo.recordSuccess(accountKey(user), now);
    // A new session id at login: a cookie planted before login is never adopted, and form tokens bound to the
    // old id stop working.
    await new Promise<void>((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(err) : resolve())));
    req.session.tokenfence = { user, loginAt: now.getTime() };
    await new Promise<void>((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
    audit(req, 'session.login', user, 200);
    reason(res, 'OK');
    res.status(200).json({ session: { name: cookieName, value: req.sessionID }, loginInfo: loginInfoBody(info) });
  };

  router.get('/', (req, res, next) => {
    const data = req.session?.tokenfence;
    if (data === undefined) {
      reason(res, 'OUT');
      refuse(req, res, next, 'not_logged_in');
      return;
    }
    storage.loginInfo
      .get(accountKey(data.user))
      .then((info) => {
        reason(res, 'OK');
        const self = options.userUrl?.(data.user, req) ?? `${req.protocol}://${req.get('host') ?? 'localhost'}/rest/api/2/user?username=${encodeURIComponent(data.user)}`;
        res.status(200).json({ self, name: data.user, loginInfo: loginInfoBody(info) });
      })
      .catch((err: unknown) => {
        report(err, 'the login history could not be read; the request was refused with 503');
        reason(res, 'AUTHENTICATED_FAILED');
        refuse(req, res, next, 'unavailable');
      });
  });

  router.delete('/', (req, res, next) => {
    reason(res, 'OUT');
    const user = req.session?.tokenfence?.user;
    if (user === undefined) {
      refuse(req, res, next, 'not_logged_in');
      return;
    }
    req.session.destroy((err: unknown) => {
      if (err !== undefined && err !== null) {
        report(err, 'a session could not be destroyed at logout; the request was refused with 503');
        refuse(req, res, next, 'unavailable');
        return;
      }
      clearCookie(res);
      audit(req, 'session.logout', user, 204);
      res.status(204).end();
    });
  });

  Object.defineProperty(router, 'middleware', { value: middleware, enumerable: true });
  Object.defineProperty(router, 'resetFailedLogins', {
    value: async (username: string): Promise<void> => {
      if (typeof username !== 'string' || username === '') throw new TypeError('resetFailedLogins(username) needs a user name');
      await accounts.delete(accountKey(username));
    },
    enumerable: true,
  });
  return router;
}
