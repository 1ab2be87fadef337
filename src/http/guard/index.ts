// tokenGuard (SPEC §5): the Express middleware that authenticates API tokens, enforces scope, restrictions
// and rate limits, audits every token call and denial, and fails closed. This file compiles the options;
// the steps of a call are in steps.ts.
import type { EvaluateOptions } from '../../rules/types.js';
import { logErrorToConsole } from '../../internal/report.js';
import { quoteParam } from '../errors.js';
import { redactorFor } from './audit-event.js';
import { parseByteLimit, DEFAULT_BODY_LIMIT } from './body.js';
import type { Answer, Exchange, Guard } from './context.js';
import { checkGuardOptions, type NextFunction, type TokenGuard, type TokenGuardOptions } from './options.js';
import { TokenRateLimiter } from './rate-limit.js';
import { requestProperty, settingsOf, targetOf, type GuardRequest } from './request.js';
import { Scope } from './scope.js';
import { credentialsStep, fail, type Step } from './steps.js';

export type { NextFunction, TokenGuard, TokenGuardOptions, TokenPrincipal } from './options.js';

/** What of an internal error reaches a logger: its name, code and message, not the object (which may hold more). */
function describeError(error: unknown): { name?: string; code?: unknown; message: string } {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code !== undefined && { code }) };
}

/** The guard's options, checked and compiled. */
function compileGuard(options: TokenGuardOptions): Guard {
  checkGuardOptions(options);
  const tokens = options.tokens;
  const realm = quoteParam(options.realm ?? 'tokenfence');
  const logger = options.logger;
  const onError =
    options.onError ?? (logger === undefined ? logErrorToConsole : (error: unknown, context: string) => logger.error({ err: describeError(error) }, `tokenfence: ${context}`));
  const caseInsensitive = options.caseInsensitiveRules === true;
  const basePath = options.basePath ?? '';
  const ruleModes: { readonly loose: EvaluateOptions; readonly strict: EvaluateOptions } = {
    loose: Object.freeze({ caseInsensitive, strict: false, basePath }),
    strict: Object.freeze({ caseInsensitive, strict: true, basePath }),
  };
  return {
    tokens,
    prefix: tokens.prefix,
    scope: new Scope(options.scope),
    required: options.required === true,
    explain: options.explain !== false,
    bodyLimit: options.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : parseByteLimit(options.bodyLimit, 'tokenGuard: options.bodyLimit'),
    limiter: options.rateLimit === undefined ? undefined : new TokenRateLimiter(options.rateLimit),
    setUser: (options.setUser ?? false) as Guard['setUser'],
    routing: { caseSensitive: options.caseSensitive, strict: options.strict },
    ruleModes,
    challenge: {
      none: `Bearer realm=${realm}`,
      invalid: `Bearer realm=${realm}, error="invalid_token"`,
      scope: `Bearer realm=${realm}, error="insufficient_scope"`,
    },
    handler: options.handler as Answer | undefined,
    auditHook: options.audit,
    requestId: options.requestId as Guard['requestId'],
    ...redactorFor(tokens.prefix),
    /** A reporter that throws must fail neither the request nor the process. */
    report: (error: unknown, context: string): void => {
      try {
        onError(error, context);
      } catch {
        // Nothing left to tell it to.
      }
    },
  };
}

/**
 * Creates the guard. Everything is validated and compiled here; a mistake throws a `TypeError` that names
 * the option.
 *
 * @example
 * const tokens = createTokenService({ store: new SqliteTokenStore('tokens.db') });
 * app.use(tokenGuard({ tokens, audit: createAuditLog([new JsonLinesSink('audit.jsonl')]) }));
 * app.get('/rest/api/2/myself', (req, res) => res.json({ name: req.tokenfence?.user }));
 */
export function tokenGuard(options: TokenGuardOptions): TokenGuard {
  const g = compileGuard(options);
  const guard = (req: GuardRequest, res: Exchange['res'], next: NextFunction): void => {
    // No Authorization header at all (anonymous, or the host's own session): nothing to do.
    const headers = requestProperty(req, 'headers');
    if (!g.required && headers.authorization === undefined) {
      next();
      return;
    }
    const x: Exchange = {
      req,
      res,
      next,
      call: { user: null, tokenId: undefined, via: undefined, ip: undefined, headers, target: targetOf(req), method: requestProperty(req, 'method') ?? 'GET', settings: settingsOf(req) },
      token: undefined,
      rateHeaders: undefined,
    };
    let step: Step;
    try {
      step = credentialsStep(g, x);
    } catch (err) {
      fail(g, x, err);
      return;
    }
    if (step !== undefined) step.catch((err: unknown) => fail(g, x, err));
  };
  Object.defineProperty(guard, 'scope', { value: g.scope, enumerable: true });
  return guard as unknown as TokenGuard;
}
