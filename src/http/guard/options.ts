// The options of tokenGuard (SPEC §5), the principal it puts on the request, and the start-up check that
// refuses a mistaken options object with a TypeError naming the option.
import type { NextFunction as ExpressNextFunction, Request, RequestHandler, Response } from 'express';
import { isContextPath } from '../../rules/evaluate.js';
import type { AuditHook } from '../../audit/events.js';
import type { TokenService } from '../../tokens/service.js';
import type { TokenRecord } from '../../tokens/store.js';
import { checkFunction, checkKnownKeys } from '../../internal/options.js';
import type { GuardError } from '../errors.js';
import type { TokenRateLimitOptions } from './rate-limit.js';
import type { Scope } from './scope.js';

/** Who a token call acts as; put on the request as `req.tokenfence`. */
export interface TokenPrincipal {
  /** The user the call acts as: the token's owner, or the Basic user name for an any-user token. */
  readonly user: string;
  /** The token's public id. */
  readonly tokenId: string;
  /** How the token was sent. */
  readonly via: 'bearer' | 'basic';
  /** The token's record (never the secret), as of this call. */
  readonly token: TokenRecord;
  /** The restriction line that allowed the call; undefined for a token without restrictions. */
  readonly line: number | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    /**
     * What `req.user` holds: passport's declaration, repeated so that it merges with passport's when both
     * are installed. With `setUser: true` it is the {@link TokenPrincipal}; say so once in the app with
     * `declare global { namespace Express { interface User extends TokenPrincipal {} } }`.
     */
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User {}
    interface Request {
      /** Set by tokenfence's `tokenGuard` when an API token authenticated the request. */
      tokenfence?: TokenPrincipal | undefined;
      /** Set by passport, or by tokenfence's `tokenGuard` with its `setUser` option. */
      user?: User | undefined;
    }
  }
}

/** Express's `next`: called with nothing to go on, never with an error by the guard (unless `handler` does). */
export type NextFunction = ExpressNextFunction;

/** Options of {@link tokenGuard}. */
export interface TokenGuardOptions {
  /** The token service that verifies tokens (`createTokenService`). */
  tokens: TokenService;
  /**
   * Where tokens may be used: path-to-regexp 8 patterns, matched with the router's case sensitivity and
   * strictness. A valid token outside scope gets 403 `outside_token_scope`; requests without a token
   * outside scope are left alone.
   * @default ['/rest/*path']
   */
  scope?: string | readonly string[] | undefined;
  /**
   * Refuse requests in scope that carry no tokenfence credential (401 `credentials_required`). Off, a
   * request without a token passes on unchanged: anonymous, or the host's own authentication.
   * @default false
   */
  required?: boolean | undefined;
  /** The realm of the `WWW-Authenticate: Bearer` challenge. @default 'tokenfence' */
  realm?: string | undefined;
  /**
   * Match the scope case-sensitively. @default the host app's `case sensitive routing` setting
   */
  caseSensitive?: boolean | undefined;
  /** Keep a trailing `/` when matching scope and rules. @default the host app's `strict routing` setting */
  strict?: boolean | undefined;
  /**
   * Match restriction URL regexes ignoring case (the regex `i` flag), as tokenfence 0.1 did in a case-insensitive app.
   * Off, rules match case-sensitively whatever the router does: Express's case-insensitive routing covers
   * route literals, not the values it captures (`/issue/jra-1` reaches `:key` as `jra-1`), and an
   * allow-list can only deny more by being stricter. Value regexes always match case-sensitively.
   * @default false
   */
  caseInsensitiveRules?: boolean | undefined;
  /**
   * The context path the app is served under, such as `/jira`: what a leading `.*` (`.*?`, `.+`) before the
   * literal start of a path in a rule stands for (SPEC §3.3). `.*\/rest/api/2/filter` then allows
   * `/jira/rest/api/2/filter` and nothing else that ends so. It does not move the scope.
   * @default '' (a leading `.*` matches nothing)
   */
  basePath?: string | undefined;
  /**
   * The largest JSON body the guard reads when a JsonData rule needs a body the host has not parsed:
   * a number of bytes, or a size string as the `bytes` package reads it (`'100kb'`, `'1mb'`), as
   * `express.json({ limit })` takes it. @default '100kb'
   */
  bodyLimit?: number | string | undefined;
  /** Put the rule-by-rule explanation in 403 `restricted` bodies. It never echoes query or body values. @default true */
  explain?: boolean | undefined;
  /** Receives a `token.used` event for every allowed token call and a `token.denied` event for every refusal. */
  audit?: AuditHook | undefined;
  /** A per-token rate limit; 429 with `Retry-After` and `RateLimit-*` headers when it is hit. @default none */
  rateLimit?: TokenRateLimitOptions | undefined;
  /**
   * Also set `req.user`: `true` sets it to the {@link TokenPrincipal}; a function returns what to set
   * (for example the host's user object, looked up by `principal.user`). A function that throws or
   * rejects fails the request closed (503). @default false (`req.user` is left alone)
   */
  setUser?: boolean | ((principal: TokenPrincipal, req: Request) => unknown) | undefined;
  /** The request id put on audit events. @default a well-formed `X-Request-Id` header */
  requestId?: ((req: Request) => string | undefined) | undefined;
  /**
   * Answers a refusal in the app's own format, as express-rate-limit's `handler` does. It gets the coded
   * {@link GuardError} (`status`, `code`, `message`, `explanation`; no stack trace) after the guard has
   * audited the refusal and set the response's status and headers (`WWW-Authenticate`, `Retry-After`,
   * `RateLimit-*`, `Cache-Control: no-store`). Pass it on with `(err, req, res, next) => next(err)` to
   * use your error-handling middleware, as passport's `failWithError` does. A handler that throws is
   * reported and the default answer is written.
   * @default writes the SPEC §5 JSON error body
   */
  handler?: ((error: GuardError, req: Request, res: Response, next: ExpressNextFunction) => void) | undefined;
  /**
   * A logger for internal errors (pino, or anything with `error(obj, msg)`): it gets the error's name,
   * code and message under `err` — never the request's credentials. Ignored when `onError` is given.
   */
  logger?: { error(obj: object, msg: string): void } | undefined;
  /**
   * Reports internal errors (a store down, a failing audit hook); their details never reach a response.
   * @default `logger.error` when a logger is given, else the message to `console.error`
   */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/** The Express middleware returned by {@link tokenGuard}, with the parts it was built from. */
export interface TokenGuard extends RequestHandler {
  /** The compiled scope. */
  readonly scope: Scope;
}

const KNOWN_OPTIONS = Object.freeze([
  'tokens',
  'scope',
  'required',
  'realm',
  'caseSensitive',
  'strict',
  'caseInsensitiveRules',
  'basePath',
  'bodyLimit',
  'explain',
  'audit',
  'rateLimit',
  'setUser',
  'requestId',
  'handler',
  'logger',
  'onError',
]);

/** What users of other libraries write, and what it is here. */
const OTHER_LIBRARIES: Readonly<Record<string, string>> = {
  failWithError: "passport's failWithError is handler: (err, req, res, next) => next(err) here",
  message: 'the error bodies are fixed (SPEC §5); give a handler to answer in your own format',
  statusCode: 'the statuses are fixed (SPEC §5); give a handler to answer in your own format',
};

/** Throws a TypeError that names the option when `options` is not a valid {@link TokenGuardOptions}. */
export function checkGuardOptions(options: TokenGuardOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('tokenGuard needs an options object: tokenGuard({ tokens })');
  checkKnownKeys('tokenGuard', options, KNOWN_OPTIONS, OTHER_LIBRARIES);
  const tokens = options.tokens as Partial<TokenService> | undefined;
  if (typeof tokens !== 'object' || tokens === null || typeof tokens.verify !== 'function' || typeof tokens.verifySync !== 'function' || typeof tokens.prefix !== 'string') {
    throw new TypeError('tokenGuard: options.tokens must be a token service from createTokenService({ store })');
  }
  for (const key of ['required', 'caseSensitive', 'strict', 'caseInsensitiveRules', 'explain'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`tokenGuard: options.${key} must be a boolean`);
  }
  for (const key of ['audit', 'requestId', 'handler', 'onError'] as const) checkFunction(`tokenGuard: options.${key}`, options[key]);
  if (options.logger !== undefined && typeof (options.logger as { error?: unknown } | null)?.error !== 'function') {
    throw new TypeError('tokenGuard: options.logger must have an error(obj, msg) method, as a pino logger does');
  }
  if (options.setUser !== undefined && typeof options.setUser !== 'boolean' && typeof options.setUser !== 'function') {
    throw new TypeError('tokenGuard: options.setUser must be a boolean or a function (principal, req) => user');
  }
  if (options.basePath !== undefined && !isContextPath(options.basePath)) {
    throw new TypeError(`tokenGuard: options.basePath must be '' or a context path such as '/jira' (a leading "/", no trailing "/"); got ${JSON.stringify(options.basePath)}`);
  }
  if (options.realm !== undefined && (typeof options.realm !== 'string' || /[\x00-\x1f\x7f]/.test(options.realm))) {
    throw new TypeError('tokenGuard: options.realm must be a string without control characters');
  }
}
