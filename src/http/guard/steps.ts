// The steps of a token call through the guard, in order: credentials → verify → limit → canonical
// request → scope → body → restrictions → principal. Each returns void when it finished without waiting and
// a promise when it had to wait (a store read, a rate-limit store, a body, setUser): a call served from the
// token service's cache runs start to end with no promise at all. A refusal ends the call in `deny`.
import { canonicalizePath, isJsonContentType } from '../../rules/canonical.js';
import { methodBit } from '../../rules/compile.js';
import { decideRequest, needsJsonBody } from '../../rules/evaluate.js';
import { RestrictionSet } from '../../rules/parse.js';
import type { EvaluateOptions } from '../../rules/types.js';
import { parseToken } from '../../tokens/format.js';
import type { VerifyResult } from '../../tokens/service.js';
import { answerRefusal, GuardError, writeGuardError, type GuardErrorCode } from '../errors.js';
import { auditCall, ipOf } from './audit-event.js';
import { bodyConsumed, readJsonBody } from './body.js';
import type { Approval, CallContext, Exchange, Guard } from './context.js';
import { readCredential } from './credentials.js';
import { lockMethod, type MethodLock } from './method-lock.js';
import type { TokenPrincipal } from './options.js';
import { candidateMethods, dispatchTargets, pathPart, routingOf, type GuardRequest, type Routing } from './request.js';
import { lockTarget, type TargetLock } from './target-lock.js';

export type Step = void | Promise<void>;

/** The loosest routing: case-insensitive, one trailing slash ignored. */
const LOOSEST = routingOf(undefined, false, false);

const refuse = (code: GuardErrorCode, message?: string, explanation?: string): GuardError => new GuardError(code, message, explanation);

/** Ends a call with a refusal: audited, then answered with its challenge and any extra headers. */
export function deny(g: Guard, x: Exchange, error: GuardError, headers: Record<string, string> = {}): void {
  if (error.status === 401) headers['WWW-Authenticate'] = error.code === 'credentials_required' ? g.challenge.none : g.challenge.invalid;
  else if (error.status === 403) headers['WWW-Authenticate'] = g.challenge.scope;
  auditCall(g, x.req, x.call, undefined, error);
  answer(g, x.req, x.res, x.next, error, headers);
}

/** Answers a refusal: the default JSON body, or the host's `handler`. */
function answer(g: Guard, req: GuardRequest, res: Exchange['res'], next: Exchange['next'], error: GuardError, headers: Readonly<Record<string, string>>): void {
  const handler = g.handler;
  answerRefusal(res, error, headers, handler && (() => handler(error, req, res, next)), g.report);
}

/** Step 1, credentials: the token of the Authorization header, or none (the host's own authentication). */
export function credentialsStep(g: Guard, x: Exchange): Step {
  const call = x.call;
  const credential = readCredential(x.req, g.prefix, call.headers);
  if (credential.kind === 'none') {
    if (g.required) {
      // Matched as loosely as any router may: a case-insensitive Router inside a case-sensitive app (a
      // Router keeps its own settings) would still route `/REST/…` to the API. An ambiguous path cannot
      // be placed outside the scope either. Both need a credential.
      const canonical = canonicalizePath(pathPart(call.target), LOOSEST);
      if (!canonical.ok || g.scope.matches(canonical.path, false, false)) {
        deny(g, x, refuse('credentials_required'));
        return;
      }
    }
    x.next();
    return;
  }
  if (credential.kind === 'malformed') {
    deny(g, x, refuse('malformed'));
    return;
  }
  call.user = credential.username ?? null;
  call.via = credential.via;
  call.ip = ipOf(g, x.req, call);
  return verifyStep(g, x, credential.token, credential.username);
}

/** Step 2, verify: the token service's verdict, from its cache when it can answer without waiting. */
function verifyStep(g: Guard, x: Exchange, token: string, username: string | undefined): Step {
  const context = { username, ip: x.call.ip! };
  const quick = g.tokens.verifySync(token, context);
  if (quick !== undefined) return verified(g, x, token, quick);
  return g.tokens.verify(token, context).then((result) => verified(g, x, token, result));
}

function verified(g: Guard, x: Exchange, token: string, result: VerifyResult): Step {
  const call = x.call;
  if (!result.ok) {
    // Only the public id, and only when the token is well-formed, reaches the audit event.
    const parsed = parseToken(token, g.prefix);
    if (parsed.ok) call.tokenId = parsed.id;
    deny(g, x, refuse(result.reason));
    return;
  }
  call.user = result.user;
  call.tokenId = result.record.id;
  x.token = result;
  return limitStep(g, x);
}

/** Step 3, limit: the token's rate limit, when the guard has one. */
function limitStep(g: Guard, x: Exchange): Step {
  if (g.limiter === undefined) return canonicalRequestStep(g, x);
  return g.limiter.consume(x.call.tokenId!).then((outcome) => {
    if (!outcome.allowed) {
      deny(g, x, refuse('rate_limited'), outcome.headers);
      return;
    }
    x.rateHeaders = outcome.headers;
    return canonicalRequestStep(g, x);
  });
}

/** Step 4, canonical request: every target and method the request could be dispatched as (SPEC §5). */
function canonicalRequestStep(g: Guard, x: Exchange): Step {
  const { req, call } = x;
  const routing = routingOf(call.settings, g.routing.caseSensitive, g.routing.strict);
  const targets = dispatchTargets(req, call.target, call.headers);
  if (typeof targets === 'string') {
    deny(g, x, refuse('ambiguous_request', undefined, targets));
    return;
  }
  const mode = routing.strict ? g.ruleModes.strict : g.ruleModes.loose;
  const methods = candidateMethods(req, call.target, call.method, call.headers);
  return scopeStep(g, x, { guard: g, set: x.token!.restrictions, methods, targets, routing, mode, call });
}

/** The scope check of every target: a refusal for the first target that is ambiguous or outside scope. */
function scopeRefusal(g: Guard, targets: readonly string[], routing: Routing): GuardError | undefined {
  for (const target of targets) {
    const canonical = canonicalizePath(pathPart(target), routing);
    if (!canonical.ok) return refuse('ambiguous_request', undefined, canonical.message);
    if (!g.scope.matches(canonical.path, routing.caseSensitive, routing.strict)) return refuse('outside_token_scope');
  }
  return undefined;
}

/** Step 5, scope: every target must lie in the guard's scope. */
function scopeStep(g: Guard, x: Exchange, approval: Approval): Step {
  const outside = scopeRefusal(g, approval.targets, approval.routing);
  if (outside !== undefined) {
    deny(g, x, outside);
    return;
  }
  return bodyStep(g, x, approval);
}

/** Step 6, body: the JSON body, read only when a JsonData constraint of a rule that could apply needs it. */
function bodyStep(g: Guard, x: Exchange, approval: Approval): Step {
  const { req, call } = x;
  // Only JsonData constraints read a body, and only a JSON content type can satisfy them.
  const contentType = call.headers['content-type'];
  if (contentType === undefined || !isJsonContentType(contentType)) return restrictionsStep(g, x, approval, undefined);
  if (bodyConsumed(req)) return restrictionsStep(g, x, approval, req.body);
  // Once per method bit and target: a header may name thousands of methods, all but eight alike to the rules.
  const { set, methods, targets, mode } = approval;
  let needed = false;
  let bits = 0;
  for (const method of methods) {
    const bit = methodBit(method);
    if ((bits & bit) !== 0) continue;
    bits |= bit;
    for (const url of targets) needed ||= needsJsonBody(set, { method, url }, mode);
  }
  if (!needed) return restrictionsStep(g, x, approval, undefined);
  return readJsonBody(req, contentType, g.bodyLimit).then((body) => {
    // The body may name a method of its own (`_method`), which must be allowed too.
    for (const method of candidateMethods(req, call.target, call.method, call.headers)) if (!methods.includes(method)) methods.push(method);
    return restrictionsStep(g, x, approval, body);
  });
}

/**
 * Evaluates every candidate method on every target; the first refusal, or the line that allowed
 * `req.method` on `req.originalUrl` (undefined for a token without restrictions).
 */
function evaluate(g: Guard, set: RestrictionSet, call: CallContext, methods: readonly string[], targets: readonly string[], mode: EvaluateOptions, body: unknown): GuardError | number | undefined {
  const verdict = decideRequest(set, methods, targets, call.headers['content-type'], body, mode);
  if (typeof verdict === 'number') return verdict === 0 ? undefined : verdict;
  const decision = verdict.decision;
  if (decision.reason === 'ambiguous_path' || decision.reason === 'ambiguous_query') return refuse('ambiguous_request', undefined, decision.explanation);
  let also = '';
  if (verdict.method !== call.method.toUpperCase()) also += `the request could also run as ${verdict.method} (a method override), and `;
  if (verdict.target !== call.target) also += `the request could also be dispatched to ${JSON.stringify(pathPart(verdict.target).slice(0, 64))} (a rewrite of its URL), and `;
  // The explanation names the path: a token pasted into it must not come back in the body.
  return refuse('restricted', undefined, g.explain ? g.redact(also + decision.explanation) : undefined);
}

/** Step 7, restrictions: the token's rules must allow every candidate method on every target. */
function restrictionsStep(g: Guard, x: Exchange, approval: Approval, body: unknown): Step {
  const verdict = evaluate(g, approval.set, approval.call, approval.methods, approval.targets, approval.mode, body);
  if (verdict instanceof GuardError) {
    deny(g, x, verdict);
    return;
  }
  return principalStep(g, x, approval, verdict);
}

/** Step 8, principal: `req.tokenfence` (and `req.user` with `setUser`), the locks, the audit event, `next()`. */
function principalStep(g: Guard, x: Exchange, approval: Approval, line: number | undefined): Step {
  const { req, call } = x;
  const result = x.token!;
  const principal: TokenPrincipal = { user: result.user, tokenId: result.record.id, via: call.via!, token: result.record, line };
  (req as { tokenfence?: TokenPrincipal }).tokenfence = principal;
  const setUser = g.setUser;
  if (setUser === true) (req as { user?: unknown }).user = principal;
  else if (typeof setUser === 'function') {
    return Promise.resolve(setUser(principal, req)).then((user) => {
      (req as { user?: unknown }).user = user;
      complete(g, x, approval, line);
    });
  }
  complete(g, x, approval, line);
}

function complete(g: Guard, x: Exchange, approval: Approval, line: number | undefined): void {
  const req = x.req;
  // The overrides tokenfence knows of were checked; a later middleware may still change the method from
  // a header, a query parameter or a body field of any name (method-override takes any getter), so the
  // method is locked to what the restrictions allow. Without method lists a change of method cannot
  // change the decision: no lock. The URL is always locked, to scope and rules alike.
  if (RestrictionSet.compiled(approval.set).hasMethods) lockMethod(req, { approval, check: checkLateMethod } satisfies MethodLock);
  lockTarget(req, { approved: approval.targets, check: checkLateTarget, refusedAtDispatch: answerLateTarget, approval } as GuardTargetLock);
  const rateHeaders = x.rateHeaders;
  if (rateHeaders !== undefined) for (const name in rateHeaders) x.res.setHeader(name, rateHeaders[name]!);
  // The event's time is the time the token service recorded this use (one clock read for both).
  auditCall(g, req, x.call, line, undefined, x.token!.record.lastAccessed ?? undefined);
  x.next();
}

/** One guard's part in a locked `req.url`. */
interface GuardTargetLock extends TargetLock {
  readonly approval: Approval;
}

/** A refusal found after approval, thrown into the host's middleware (its error handler answers; Express uses `status`). */
function throwLate(req: GuardRequest, approval: Approval, refusal: GuardError): never {
  auditCall(approval.guard, req, approval.call, undefined, refusal);
  // No stack trace: a development error page prints `stack`.
  refusal.stack = `${refusal.name}: ${refusal.message}`;
  throw refusal;
}

/**
 * After approval, `req.method` may only change to a method the restrictions allow on the approved
 * targets: a body-based method override that runs after the guard is checked here, with the body as it is then.
 */
function checkLateMethod(req: GuardRequest, lock: MethodLock, value: unknown): void {
  const approval = lock.approval;
  const method = String(value).toUpperCase();
  if (approval.methods.includes(method)) return;
  const verdict = evaluate(approval.guard, approval.set, approval.call, [method], approval.targets, approval.mode, bodyConsumed(req) ? req.body : undefined);
  if (verdict instanceof GuardError) throwLate(req, approval, verdict);
  approval.methods.push(method);
}

/** After approval, `req.url` may only lead to a target in scope that the restrictions allow for every approved method. */
function checkLateTarget(req: object, lock: TargetLock, target: string): void {
  const approval = (lock as GuardTargetLock).approval;
  const g = approval.guard;
  const request = req as GuardRequest;
  const verdict = scopeRefusal(g, [target], approval.routing) ?? evaluate(g, approval.set, approval.call, approval.methods, [target], approval.mode, bodyConsumed(request) ? request.body : undefined);
  if (verdict instanceof GuardError) throwLate(request, approval, verdict);
  approval.targets.push(target);
}

/**
 * A refused target that the router was dispatching (a host middleware rewrote `req.url` to a suffix of an
 * approved path and called `next()`): the router swallows the refusal, so it is answered here, as any
 * refusal is (already audited by throwLate). The first guard to answer wins.
 */
function answerLateTarget(req: object, refusal: unknown, lock: TargetLock): void {
  const g = (lock as GuardTargetLock).approval.guard;
  const res = (req as { res?: Exchange['res'] }).res;
  if (!(refusal instanceof GuardError) || res === undefined || res.headersSent) return;
  const headers: Record<string, string> = refusal.status === 403 ? { 'WWW-Authenticate': g.challenge.scope } : {};
  // The router has no `next` left for this request: a handler that passes the refusal on gets the default body.
  answer(g, req as GuardRequest, res, () => writeGuardError(res, refusal, headers), refusal, headers);
}

/** Answers a call that failed on the way; never throws (it runs in promise handlers, where a throw would go unhandled). */
export function fail(g: Guard, x: Exchange, err: unknown): void {
  try {
    if (err instanceof GuardError) {
      // Bad input found on the way (an unreadable body): a coded refusal, not an internal error.
      deny(g, x, err);
      return;
    }
    g.report(err, 'the token guard failed; the request was refused with 503');
    deny(g, x, refuse('unavailable'));
  } catch (inner) {
    g.report(inner, 'the token guard could not answer a failed call; it answered 503 without headers of its own');
    try {
      writeGuardError(x.res, refuse('unavailable'));
    } catch {
      x.res.destroy();
    }
  }
}
