// xsrfProtection (SPEC §9): the Express middleware that refuses forged session requests, with the pure parts
// attached (csrf-csrf's toolkit shape), and `formToken(req)` for the pages that render forms. The options
// are compiled in options.ts, the checks are in checks.ts, the tokens in form-token.ts.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { logErrorToConsole } from '../../internal/report.js';
import { answerRefusal } from '../errors.js';
import { emitEvent, requestEvent } from '../request-event.js';
import { checkXsrf, type XsrfRequest } from './checks.js';
import type { XsrfError } from './errors.js';
import { FormTokens } from './form-token.js';
import { compileXsrfOptions, type XsrfConfig, type XsrfOptions } from './options.js';

export { XsrfError, XSRF_ERROR_MESSAGE, type XsrfCheck, type XsrfErrorCode } from './errors.js';
export { DEFAULT_NO_CHECK_HEADER, DEFAULT_TOKEN_HEADER, type XsrfOptions } from './options.js';
export { FORM_TOKEN_FIELD, type XsrfSecret } from './form-token.js';
export type { XsrfRequest } from './checks.js';
// The declaration of req.session.tokenfence (express-session's SessionData) comes with the session module's options.
import type {} from '../session/options.js';

/**
 * The token minter of each request that went through an xsrfProtection, for `formToken(req)`. A WeakMap
 * rather than a property: adding a property to an Express request costs a hidden-class transition on every
 * request. Shared through the global symbol registry, so two copies of tokenfence in one process find each
 * other's.
 */
const MINTERS: WeakMap<object, Minter> = ((globalThis as Record<symbol, unknown>)[Symbol.for('tokenfence.xsrf.minters.v1')] ??= new WeakMap()) as WeakMap<object, Minter>;

type Minter = (req: Request) => string;

/** The Express middleware returned by {@link xsrfProtection}, with its pure parts. */
export interface XsrfProtection extends RequestHandler {
  /**
   * A fresh form token for the request's session (`req.sessionID`), to put in a form as `atl_token`. Every
   * token minted for a session stays valid until its id changes (at login). Throws a TypeError when the
   * request has no session (express-session not mounted).
   */
  formToken(req: Request): string;
  /** Whether `token` is a valid form token for the request's session. Never throws. */
  verifyFormToken(req: Request, token: unknown): boolean;
  /**
   * Runs every check on the request without answering it: the {@link XsrfError} the middleware would
   * answer with, or undefined when the request may go on.
   */
  checkRequest(req: Request): XsrfError | undefined;
}

/** The session id of a request with an express-session session, or a TypeError naming xsrfProtection. */
function sessionIdOf(req: Request, where: string): string {
  const id = (req as { sessionID?: unknown }).sessionID;
  if (typeof req.session !== 'object' || req.session === null || typeof id !== 'string' || id === '') {
    throw new TypeError(`${where}: the request has no session; mount express-session before xsrfProtection`);
  }
  return id;
}

/** The session's user (a checked request is always one the session authenticated). */
function sessionUserOf(req: Request): string | null {
  const user = (req as { session?: { tokenfence?: { user?: unknown } } }).session?.tokenfence?.user;
  return typeof user === 'string' ? user : null;
}

/** Answers a refusal: the default JSON body, or the host's `handler` after the status and headers are set. */
function answer(config: XsrfConfig, error: XsrfError, req: Request, res: Response, next: NextFunction): void {
  emitEvent(config.audit, () => requestEvent('xsrf.denied', req, { user: sessionUserOf(req), via: 'session', outcome: 'failure', reason: error.check, status: error.status }), (err, context) =>
    logErrorToConsole(err, `xsrfProtection: ${context}`),
  );
  const handler = config.handler;
  answerRefusal(res, error, {}, handler && (() => handler(error, req, res, next)), (err, context) => logErrorToConsole(err, `xsrfProtection: ${context}`));
}

/**
 * Creates the XSRF protection of SPEC §9. Mount it after express-session (and after the token guard, so
 * token calls are exempt), before the routes it protects; mount body parsers before it if forms send
 * `atl_token` in the body. Options are checked here; a mistake throws a TypeError naming the option.
 *
 * Only unsafe requests (any method but GET, HEAD and OPTIONS) authenticated by the session login are
 * checked. They are refused (403 `xsrf_check_failed`) when the browser marks them `Sec-Fetch-Site:
 * cross-site`, when their `Origin` (or, without one, `Referer`) is not allowed, or when their body is one a
 * cross-site form could send (form-encoded, multipart, text/plain, no or an unparseable Content-Type) and
 * they carry neither `X-Atlassian-Token: no-check` nor a valid form token.
 *
 * @example
 * const xsrf = xsrfProtection({ secret: process.env.XSRF_SECRET });
 * app.use(session({ ... }), express.urlencoded({ extended: false }), tokenGuard({ tokens }), xsrf);
 * app.get('/issue/new', (req, res) => res.render('new-issue', { atl_token: formToken(req) }));
 */
export function xsrfProtection(options: XsrfOptions): XsrfProtection {
  const config = compileXsrfOptions(options);
  const tokens = new FormTokens(config.keys);
  const mint: Minter = (req) => tokens.mint(sessionIdOf(req, 'formToken'));
  const checkRequest = (req: Request): XsrfError | undefined => checkXsrf(config, tokens, req as unknown as XsrfRequest);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    MINTERS.set(req, mint);
    const error = checkRequest(req);
    if (error === undefined) next();
    else answer(config, error, req, res, next);
  };
  return Object.assign(middleware, {
    formToken: mint,
    verifyFormToken: (req: Request, token: unknown): boolean => tokens.verify((req as { sessionID?: unknown }).sessionID, token),
    checkRequest,
  });
}

/**
 * A fresh form token for the request's session, for a request that went through an {@link xsrfProtection}
 * middleware: put it in forms as the hidden field `atl_token`, or give it to scripts for the form-token header.
 * Throws a TypeError when no xsrfProtection ran for the request or the request has no session.
 *
 * @example
 * res.send(`<form method="post" action="/issue"><input type="hidden" name="atl_token" value="${formToken(req)}">…</form>`);
 */
export function formToken(req: Request): string {
  const mint = typeof req === 'object' && req !== null ? MINTERS.get(req) : undefined;
  if (typeof mint !== 'function') throw new TypeError('formToken: no xsrfProtection middleware has run for this request; mount xsrfProtection({ secret }) before the route that renders the form');
  return (mint as Minter)(req);
}
