// The options of tokenRouter (SPEC §7), and the start-up check that refuses a mistaken options object with a
// TypeError naming the option.
import type { NextFunction, Request, Response } from 'express';
import type { AuditHook } from '../../audit/events.js';
import { checkFunction, checkKnownKeys } from '../../internal/options.js';
import { isContextPath } from '../../rules/evaluate.js';
import type { TokenService } from '../../tokens/service.js';
import type { ManageError } from './errors.js';

/** Options of {@link tokenRouter}. */
export interface TokenRouterOptions {
  /** The token service (`createTokenService`). */
  tokens: TokenService;
  /**
   * Who is calling, by the host's authentication: a user name, or undefined when nobody is logged in (401).
   * @default the session's user (`callerOf(req)` when it is `via: 'session'`)
   */
  currentUser?: ((req: Request) => string | undefined | Promise<string | undefined>) | undefined;
  /** Whether a user is an administrator (admin routes, `owner` on create). @default nobody is */
  isAdmin?: ((user: string, req: Request) => boolean | Promise<boolean>) | undefined;
  /**
   * Let calls authenticated by an API token use the router. Off, they get 403 `token_auth_refused`: a
   * restricted token must never mint an unrestricted one. Turn it on only if the host restricts such calls
   * itself. @default false
   */
  allowTokenAuthentication?: boolean | undefined;
  /** The URL the snippets call (an absolute URL). @default `<origin of the request>/rest/api/2/myself` */
  exampleUrl?: string | ((req: Request) => string) | undefined;
  /** The context path for `/check`, as the guard's `basePath`. @default '' */
  basePath?: string | undefined;
  /** Match URL rules ignoring case in `/check`, as the guard's `caseInsensitiveRules`. @default false */
  caseInsensitiveRules?: boolean | undefined;
  /**
   * Rule parses (`/validate`, `/check`, create, edit) one user may run per `duration` seconds: a parse
   * vets every regex, so a flood of large texts is refused with 429. `false` turns it off.
   * @default { points: 120, duration: 60 }
   */
  parseLimit?: { points: number; duration: number } | false | undefined;
  /**
   * Receives a `manage.denied` event for each refusal that says something about the caller: not logged in
   * (401), a call made with an API token or a non-admin on an admin route (403), another user's or no token
   * (404), too many rule checks (429). Token changes are audited by the token service's own `audit`.
   */
  audit?: AuditHook | undefined;
  /** Answers refusals in the app's own format, as the guard's `handler` does. @default writes the SPEC §5 JSON error body */
  handler?: ((error: ManageError, req: Request, res: Response, next: NextFunction) => void) | undefined;
  /** Reports internal errors (a store down); their details never reach a response. @default the message to `console.error` */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

const KNOWN = Object.freeze(['tokens', 'currentUser', 'isAdmin', 'allowTokenAuthentication', 'exampleUrl', 'basePath', 'caseInsensitiveRules', 'parseLimit', 'audit', 'handler', 'onError']);
const HINTS: Readonly<Record<string, string>> = {
  tokenService: 'the option is "tokens"',
  getUser: 'the option is "currentUser" (req) => user name',
  admin: 'the option is "isAdmin" (user, req) => boolean',
  allowTokenAuth: 'did you mean "allowTokenAuthentication"?',
};

/** Throws a TypeError that names the option when `options` is not valid {@link TokenRouterOptions}. */
export function checkRouterOptions(options: TokenRouterOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('tokenRouter needs an options object: tokenRouter({ tokens, currentUser, isAdmin })');
  checkKnownKeys('tokenRouter', options, KNOWN, HINTS);
  const tokens = options.tokens as Partial<TokenService> | undefined;
  if (typeof tokens !== 'object' || tokens === null || typeof tokens.issue !== 'function' || typeof tokens.list !== 'function') {
    throw new TypeError('tokenRouter: options.tokens must be a token service from createTokenService({ store })');
  }
  for (const key of ['currentUser', 'isAdmin', 'audit', 'handler', 'onError'] as const) checkFunction(`tokenRouter: options.${key}`, options[key]);
  for (const key of ['allowTokenAuthentication', 'caseInsensitiveRules'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`tokenRouter: options.${key} must be a boolean`);
  }
  const example = options.exampleUrl;
  if (example !== undefined && typeof example !== 'function' && (typeof example !== 'string' || !/^https?:\/\/[^\s]+$/.test(example))) {
    throw new TypeError("tokenRouter: options.exampleUrl must be an absolute http(s) URL, such as 'https://jira.example.com/rest/api/2/myself', or a function (req) => URL");
  }
  if (options.basePath !== undefined && !isContextPath(options.basePath)) {
    throw new TypeError(`tokenRouter: options.basePath must be '' or a context path such as '/jira' (a leading "/", no trailing "/"); got ${JSON.stringify(options.basePath)}`);
  }
  if (options.parseLimit !== undefined && options.parseLimit !== false) {
    const limit = options.parseLimit as { points?: unknown; duration?: unknown } | null;
    if (typeof limit !== 'object' || limit === null) throw new TypeError('tokenRouter: options.parseLimit must be { points, duration } or false');
    checkKnownKeys('tokenRouter: options.parseLimit', limit, ['points', 'duration'], { max: '"points" (parses per window)', windowMs: '"duration", in seconds' });
    for (const key of ['points', 'duration'] as const) {
      if (!Number.isSafeInteger(limit[key]) || (limit[key] as number) < 1) throw new TypeError(`tokenRouter: options.parseLimit.${key} must be a positive integer${key === 'duration' ? ' of seconds' : ''}`);
    }
  }
}
