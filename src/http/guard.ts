// tokenGuard (SPEC §5): the Express middleware that authenticates API tokens, enforces scope, restrictions
// and rate limits, audits every token call and denial, and fails closed.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { canonicalizePath, isJsonContentType } from '../rules/canonical.js';
import { methodBit } from '../rules/compile.js';
import { decideRequest, isContextPath, needsJsonBody } from '../rules/evaluate.js';
import { RestrictionSet } from '../rules/parse.js';
import type { EvaluateOptions } from '../rules/types.js';
import type { AuditEvent, AuditEventType, AuditHook } from '../tokens/audit.js';
import { parseToken } from '../tokens/format.js';
import type { TokenService, VerifyResult } from '../tokens/service.js';
import type { TokenRecord } from '../tokens/store.js';
import { bodyConsumed, DEFAULT_BODY_LIMIT, parseByteLimit, readJsonBody } from './body.js';
import { readCredential } from './credentials.js';
import { GuardError, logErrorToConsole, quoteParam, writeGuardError, type GuardErrorCode } from './errors.js';
import { TokenRateLimiter, type TokenRateLimitOptions } from './rate-limit.js';
import { candidateMethods, clientIp, dispatchTargets, pathPart, requestIdOf, requestProperty, routingOf, settingsOf, targetOf, userAgentOf, type AppSettings, type GuardRequest, type Routing } from './request.js';
import { Scope } from './scope.js';
import { checkKnownKeys } from '../tokens/options.js';
import { lockTarget, type TargetLock } from './target-lock.js';

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
    interface Request {
      /** Set by tokenfence's `tokenGuard` when an API token authenticated the request. */
      tokenfence?: TokenPrincipal;
    }
  }
}

/** Express's `next`: called with nothing to go on, never with an error by the guard. */
export type NextFunction = (error?: unknown) => void;

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
  scope?: string | readonly string[];
  /**
   * Refuse requests in scope that carry no tokenfence credential (401 `credentials_required`). Off, a
   * request without a token passes on unchanged: anonymous, or the host's own authentication.
   * @default false
   */
  required?: boolean;
  /** The realm of the `WWW-Authenticate: Bearer` challenge. @default 'tokenfence' */
  realm?: string;
  /**
   * Match the scope case-sensitively. @default the host app's `case sensitive routing` setting
   */
  caseSensitive?: boolean;
  /** Keep a trailing `/` when matching scope and rules. @default the host app's `strict routing` setting */
  strict?: boolean;
  /**
   * Match restriction URL regexes ignoring case (the regex `i` flag), as tokenfence 0.1 did in a case-insensitive app.
   * Off, rules match case-sensitively whatever the router does: Express's case-insensitive routing covers
   * route literals, not the values it captures (`/issue/jra-1` reaches `:key` as `jra-1`), and an
   * allow-list can only deny more by being stricter. Value regexes always match case-sensitively.
   * @default false
   */
  caseInsensitiveRules?: boolean;
  /**
   * The context path the app is served under, such as `/jira`: what a leading `.*` (`.*?`, `.+`) before the
   * literal start of a path in a rule stands for (SPEC §3.3). `.*\/rest/api/2/filter` then allows
   * `/jira/rest/api/2/filter` and nothing else that ends so. It does not move the scope.
   * @default '' (a leading `.*` matches nothing)
   */
  basePath?: string;
  /**
   * The largest JSON body the guard reads when a JsonData rule needs a body the host has not parsed.
   * A number of bytes or a size such as `'1mb'`. @default '100kb' (as `express.json()`)
   */
  bodyLimit?: number | string;
  /** Put the rule-by-rule explanation in 403 `restricted` bodies. It never echoes query or body values. @default true */
  explain?: boolean;
  /** Receives a `token.used` event for every allowed token call and a `token.denied` event for every refusal. */
  audit?: AuditHook;
  /** A per-token rate limit; 429 with `Retry-After` and `RateLimit-*` headers when it is hit. @default none */
  rateLimit?: TokenRateLimitOptions;
  /**
   * Also set `req.user`: `true` sets it to the {@link TokenPrincipal}; a function returns what to set
   * (for example the host's user object, looked up by `principal.user`). A function that throws or
   * rejects fails the request closed (503). @default false (`req.user` is left alone)
   */
  setUser?: boolean | ((principal: TokenPrincipal, req: GuardRequest) => unknown);
  /** The request id put on audit events. @default a well-formed `X-Request-Id` header */
  requestId?: (req: GuardRequest) => string | undefined;
  /**
   * A logger for internal errors (pino, or anything with `error(obj, msg)`): it gets the error's name,
   * code and message under `err` — never the request's credentials. Ignored when `onError` is given.
   */
  logger?: { error(obj: object, msg: string): void };
  /**
   * Reports internal errors (a store down, a failing audit hook); their details never reach a response.
   * @default `logger.error` when a logger is given, else the message to `console.error`
   */
  onError?: (error: unknown, context: string) => void;
}

/** The Express middleware returned by {@link tokenGuard}, with the parts it was built from. */
export interface TokenGuard {
  (req: GuardRequest, res: ServerResponse, next: NextFunction): void;
  /** The compiled scope. */
  readonly scope: Scope;
}

const KNOWN_OPTIONS = Object.freeze(['tokens', 'scope', 'required', 'realm', 'caseSensitive', 'strict', 'caseInsensitiveRules', 'basePath', 'bodyLimit', 'explain', 'audit', 'rateLimit', 'setUser', 'requestId', 'logger', 'onError']);
const MAX_AUDIT_PATH = 1024;
/** The loosest routing: case-insensitive, one trailing slash ignored. */
const LOOSEST = routingOf(undefined, false, false);
const MAX_REQUEST_ID = 256;

function checkOptions(options: TokenGuardOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('tokenGuard needs an options object: tokenGuard({ tokens })');
  checkKnownKeys('tokenGuard', options, KNOWN_OPTIONS);
  const tokens = options.tokens as Partial<TokenService> | undefined;
  if (typeof tokens !== 'object' || tokens === null || typeof tokens.verify !== 'function' || typeof tokens.verifySync !== 'function' || typeof tokens.prefix !== 'string') {
    throw new TypeError('tokenGuard: options.tokens must be a token service from createTokenService({ store })');
  }
  for (const key of ['required', 'caseSensitive', 'strict', 'caseInsensitiveRules', 'explain'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`tokenGuard: options.${key} must be a boolean`);
  }
  for (const key of ['audit', 'requestId', 'onError'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new TypeError(`tokenGuard: options.${key} must be a function`);
  }
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

/** What of an internal error reaches a logger: its name, code and message, not the object (which may hold more). */
function describeError(error: unknown): { name?: string; code?: unknown; message: string } {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code !== undefined && { code }) };
}

const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;
/**
 * `text` percent-decoded for redaction: up to eight rounds (a double-encoded token is still one), each run
 * of escapes read as UTF-8, an invalid sequence as U+FFFD, so it never throws.
 */
function decodeForAudit(text: string): string {
  let out = text;
  for (let round = 0; round < 8 && out.includes('%'); round++) {
    const next = out.replace(ESCAPES, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
    if (next === out) break;
    out = next;
  }
  return out;
}

const NOT_PRINTABLE_ASCII = /[^\x21-\x7e]/gu;
/** One character percent-encoded as UTF-8 (a lone surrogate as U+FFFD). */
function encodeForAudit(c: string): string {
  try {
    return encodeURIComponent(c);
  } catch {
    return '%EF%BF%BD';
  }
}

/** A verify result that accepted the token. */
type VerifiedToken = Extract<VerifyResult, { ok: true }>;

/**
 * What a guard approved for a request: the rules and matching modes, and the methods and targets
 * (`baseUrl + url`, with query) it allowed, which later changes of `req.method` and `req.url` are checked
 * against (and added to).
 */
interface Approval {
  readonly set: RestrictionSet;
  readonly methods: string[];
  readonly targets: string[];
  /** Scope matching (the router's settings). */
  readonly routing: Routing;
  /** Rule matching. */
  readonly mode: EvaluateOptions;
  readonly call: CallContext;
}
/** One guard's part in a locked `req.method` (see `lockMethod` in the guard). */
interface MethodLock {
  readonly approval: Approval;
  /** Throws when this guard's restrictions do not allow `value`; else records it as approved. */
  readonly check: (req: GuardRequest, lock: MethodLock, value: unknown) => void;
}
/** One guard's part in a locked `req.url`. */
interface GuardTargetLock extends TargetLock {
  readonly approval: Approval;
}
/** A locked `req.method`: its value, and the lock of every guard that approved the request. */
interface MethodState {
  current: unknown;
  readonly locks: MethodLock[];
}
/**
 * The locked requests, shared through the global symbol registry by every copy of tokenfence in the
 * process (its CommonJS and ES module builds may both be loaded), so a second guard adds its lock to the
 * first one's instead of failing to redefine the property.
 */
const METHOD_STATES: WeakMap<object, MethodState> = ((globalThis as Record<symbol, unknown>)[Symbol.for('tokenfence.methodStates.v1')] ??= new WeakMap()) as WeakMap<object, MethodState>;
/** The state of `req`, or of the request an object inherits from (`Object.create(req)`). */
function methodStateOf(target: object): MethodState | undefined {
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const state = METHOD_STATES.get(o);
    if (state !== undefined) return state;
  }
  return undefined;
}
/**
 * One descriptor for every request, so no closures are made per call. Not configurable: once a guard
 * approved the request, neither `delete req.method` nor `Object.defineProperty` can take the lock away
 * (in strict code they throw; the method stays as approved).
 */
const METHOD_DESCRIPTOR: PropertyDescriptor = {
  configurable: false,
  enumerable: true,
  get(this: object) {
    return methodStateOf(this)?.current;
  },
  set(this: object, value: unknown) {
    const state = methodStateOf(this);
    if (state === undefined) throw new TypeError('tokenfence: req.method is locked');
    for (const lock of state.locks) lock.check(this as GuardRequest, lock, value);
    state.current = value;
  },
};
const USED: AuditEventType = 'token.used';
const DENIED: AuditEventType = 'token.denied';

/**
 * One call through the guard: what it read off the request, and what it knows so far for the audit event of
 * the outcome.
 *
 * Each request property is read once, here or on the way, and none after `req.tokenfence` is set. Express
 * swaps the prototype of every request (`Object.setPrototypeOf(req, app.request)`), and from then on V8
 * builds a new hidden class for each property added to it (any object whose prototype was set this way
 * does the same): every request ends up with a class of its own, so an inline cache on `req.x` misses on
 * every request (about 1 µs each on a loaded server), and setting `tokenfence` copies the class once more.
 * The reads therefore go through `requestProperty` (`Reflect.get`, a lookup with no cache to miss), once
 * each; reading from this object afterwards costs nothing.
 */
interface CallContext {
  user: string | null;
  tokenId: string | undefined;
  via: 'bearer' | 'basic' | undefined;
  /** The client address, once read (Express's `req.ip` runs proxy-addr each time). */
  ip: string | null | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The request target as received (`originalUrl`). */
  readonly target: string;
  /** `req.method` when the guard ran. */
  readonly method: string;
  /** The settings of the app that runs the request (routing, `trust proxy`). */
  readonly settings: AppSettings | undefined;
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
  checkOptions(options);
  const tokens = options.tokens;
  const prefix = tokens.prefix;
  const scope = new Scope(options.scope);
  const required = options.required === true;
  const explain = options.explain !== false;
  const realm = quoteParam(options.realm ?? 'tokenfence');
  const bodyLimit = options.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : parseByteLimit(options.bodyLimit, 'tokenGuard: options.bodyLimit');
  const limiter = options.rateLimit === undefined ? undefined : new TokenRateLimiter(options.rateLimit);
  const logger = options.logger;
  const onError =
    options.onError ?? (logger === undefined ? logErrorToConsole : (error: unknown, context: string) => logger.error({ err: describeError(error) }, `tokenfence: ${context}`));
  const auditHook = options.audit;
  const requestId = options.requestId;
  const setUser = options.setUser ?? false;
  const caseInsensitiveRules = options.caseInsensitiveRules === true;
  const basePath = options.basePath ?? '';
  /** Rule matching, by the router's strictness. */
  const ruleModes: { readonly loose: EvaluateOptions; readonly strict: EvaluateOptions } = {
    loose: Object.freeze({ caseInsensitive: caseInsensitiveRules, strict: false, basePath }),
    strict: Object.freeze({ caseInsensitive: caseInsensitiveRules, strict: true, basePath }),
  };
  const challenge = {
    none: `Bearer realm=${realm}`,
    invalid: `Bearer realm=${realm}, error="invalid_token"`,
    scope: `Bearer realm=${realm}, error="insufficient_scope"`,
  };

  // A client that pastes a token into the path, the User-Agent or a request id must not get it into the
  // audit trail or an error body: in any case, and percent-encoded too. (A prefix is lower-case letters,
  // digits and `_`, nothing a regular expression reads specially.)
  const prefixAnyCase = new RegExp(prefix, 'i');
  const tokenText = new RegExp(`${prefix}[0-9A-Za-z]*`, 'gi');
  const redacted = `${prefix}[redacted]`;
  const redact = (text: string): string => {
    if (text.includes('%')) {
      // Decoded, `tf%6B_…` or `tfk_%41…` is a token too: such a text is written decoded, the token replaced.
      const decoded = decodeForAudit(text);
      // Decoded, the text could hold anything (line separators, bidirectional controls): everything but
      // printable ASCII is percent-encoded again.
      if (decoded !== text && prefixAnyCase.test(decoded)) return decoded.replace(tokenText, redacted).replace(NOT_PRINTABLE_ASCII, encodeForAudit);
    }
    // Every prefix ends with `_`: a text without one (most paths and agents) holds no token as sent.
    return text.includes('_') && prefixAnyCase.test(text) ? text.replace(tokenText, redacted) : text;
  };
  /** Reports an internal error; a reporter that throws must fail neither the request nor the process. */
  const report = (error: unknown, context: string): void => {
    try {
      onError(error, context);
    } catch {
      // Nothing left to tell it to.
    }
  };
  /** The client address; when Express's `req.ip` throws (a `trust proxy` function of the host's), the socket's. */
  const ipOf = (req: GuardRequest, call: CallContext): string | null => {
    try {
      return clientIp(req, call.settings);
    } catch (err) {
      report(err, "req.ip failed (the app's trust proxy setting); the socket's address is used");
      return requestProperty(req, 'socket')?.remoteAddress ?? null;
    }
  };
  /** The request id from `options.requestId`; a hook that throws or returns a non-string gives none. */
  const customRequestId = (req: GuardRequest): string | undefined => {
    try {
      const id = requestId!(req);
      return typeof id === 'string' ? (id.length > MAX_REQUEST_ID ? id.slice(0, MAX_REQUEST_ID) : id) : undefined;
    } catch (err) {
      report(err, 'options.requestId failed; the audit event has no request id');
      return undefined;
    }
  };
  /** Emits the event of a call's outcome: `token.used` with the allowing line, or `token.denied` with the refusal. Never throws. */
  const audit = (req: GuardRequest, call: CallContext, line: number | undefined, refusal: GuardError | undefined, at?: Date): void => {
    if (auditHook === undefined) return;
    try {
      emitAudit(req, call, line, refusal, at);
    } catch (err) {
      report(err, 'the audit event could not be built');
    }
  };
  const emitAudit = (req: GuardRequest, call: CallContext, line: number | undefined, refusal: GuardError | undefined, at: Date | undefined): void => {
    const path = redact(pathPart(call.target));
    const headers = call.headers;
    const id = requestId === undefined ? requestIdOf(headers) : customRequestId(req);
    const userAgent = userAgentOf(headers);
    // Frozen, with a Date of its own (not the token record's): a sink, a hook or a handler holding the
    // principal cannot change the record after it was emitted, and the JSON-lines sink writes it later.
    const full: AuditEvent = Object.freeze({
      type: refusal === undefined ? USED : DENIED,
      at: at === undefined ? new Date() : new Date(at.getTime()),
      user: call.user,
      tokenId: call.tokenId,
      via: call.via,
      method: call.method,
      path: path.length > MAX_AUDIT_PATH ? `${path.slice(0, MAX_AUDIT_PATH)}…` : path,
      ip: call.ip === undefined ? ipOf(req, call) : call.ip,
      userAgent: userAgent === undefined ? undefined : redact(userAgent),
      outcome: refusal === undefined ? 'success' : 'failure',
      reason: refusal?.code,
      requestId: id === undefined || prefixAnyCase.test(id) || (id.includes('%') && prefixAnyCase.test(decodeForAudit(id))) ? undefined : id,
      line,
      status: refusal?.status,
    });
    try {
      const result = auditHook!(full);
      if (result instanceof Promise) result.catch((err: unknown) => report(err, 'audit hook failed'));
    } catch (err) {
      report(err, 'audit hook failed');
    }
  };

  const deny = (req: GuardRequest, res: ServerResponse, error: GuardError, call: CallContext, headers: Record<string, string> = {}): void => {
    if (error.status === 401) headers['WWW-Authenticate'] = error.code === 'credentials_required' ? challenge.none : challenge.invalid;
    else if (error.status === 403) headers['WWW-Authenticate'] = challenge.scope;
    audit(req, call, undefined, error);
    writeGuardError(res, error, headers);
  };

  const refuse = (code: GuardErrorCode, message?: string, explanation?: string): GuardError => new GuardError(code, message, explanation);

  /** The scope check of every target: a refusal for the first target that is ambiguous or outside scope. */
  const scopeRefusal = (targets: readonly string[], routing: Routing): GuardError | undefined => {
    for (const target of targets) {
      const canonical = canonicalizePath(pathPart(target), routing);
      if (!canonical.ok) return refuse('ambiguous_request', undefined, canonical.message);
      if (!scope.matches(canonical.path, routing.caseSensitive, routing.strict)) return refuse('outside_token_scope');
    }
    return undefined;
  };

  /**
   * Evaluates every candidate method on every target; the first refusal, or the line that allowed
   * `req.method` on `req.originalUrl` (undefined for a token without restrictions).
   */
  const evaluate = (set: RestrictionSet, call: CallContext, methods: readonly string[], targets: readonly string[], mode: EvaluateOptions, body: unknown): GuardError | number | undefined => {
    const verdict = decideRequest(set, methods, targets, call.headers['content-type'], body, mode);
    if (typeof verdict === 'number') return verdict === 0 ? undefined : verdict;
    const decision = verdict.decision;
    if (decision.reason === 'ambiguous_path' || decision.reason === 'ambiguous_query') return refuse('ambiguous_request', undefined, decision.explanation);
    let also = '';
    if (verdict.method !== call.method.toUpperCase()) also += `the request could also run as ${verdict.method} (a method override), and `;
    if (verdict.target !== call.target) also += `the request could also be dispatched to ${JSON.stringify(pathPart(verdict.target).slice(0, 64))} (a rewrite of its URL), and `;
    // The explanation names the path: a token pasted into it must not come back in the body.
    return refuse('restricted', undefined, explain ? redact(also + decision.explanation) : undefined);
  };

  /** A refusal found after approval, thrown into the host's middleware (its error handler answers; Express uses `status`). */
  const throwLate = (req: GuardRequest, approval: Approval, refusal: GuardError): never => {
    audit(req, approval.call, undefined, refusal);
    // No stack trace: a development error page prints `stack`.
    refusal.stack = `${refusal.name}: ${refusal.message}`;
    throw refusal;
  };

  /**
   * After approval, `req.method` may only change to a method the restrictions allow on the approved
   * targets: a body-based method override that runs after the guard is checked here, with the body as it is then.
   */
  const checkLateMethod = (req: GuardRequest, lock: MethodLock, value: unknown): void => {
    const approval = lock.approval;
    const method = String(value).toUpperCase();
    if (approval.methods.includes(method)) return;
    const verdict = evaluate(approval.set, approval.call, [method], approval.targets, approval.mode, bodyConsumed(req) ? req.body : undefined);
    if (verdict instanceof GuardError) throwLate(req, approval, verdict);
    approval.methods.push(method);
  };

  /** After approval, `req.url` may only lead to a target in scope that the restrictions allow for every approved method. */
  const checkLateTarget = (req: object, lock: TargetLock, target: string): void => {
    const approval = (lock as GuardTargetLock).approval;
    const request = req as GuardRequest;
    const verdict = scopeRefusal([target], approval.routing) ?? evaluate(approval.set, approval.call, approval.methods, [target], approval.mode, bodyConsumed(request) ? request.body : undefined);
    if (verdict instanceof GuardError) throwLate(request, approval, verdict);
    approval.targets.push(target);
  };

  /**
   * A refused target that the router was dispatching (a host middleware rewrote `req.url` to a suffix of an
   * approved path and called `next()`): the router swallows the refusal, so it is answered here, as any
   * refusal is (already audited by throwLate). The first guard to answer wins.
   */
  const answerLateTarget = (req: object, refusal: unknown): void => {
    const res = (req as { res?: ServerResponse }).res;
    if (!(refusal instanceof GuardError) || res === undefined || res.headersSent) return;
    writeGuardError(res, refusal, refusal.status === 403 ? { 'WWW-Authenticate': challenge.scope } : {});
  };

  const lockMethod = (req: GuardRequest, approval: Approval): void => {
    const lock: MethodLock = { approval, check: checkLateMethod };
    const state = METHOD_STATES.get(req);
    if (state !== undefined) {
      // Locked by another guard already: the method must satisfy this one too.
      state.locks.push(lock);
      return;
    }
    METHOD_STATES.set(req, { current: approval.call.method, locks: [lock] });
    Object.defineProperty(req, 'method', METHOD_DESCRIPTOR);
  };

  // The steps of a token call. Each returns void when it finished without waiting and a promise when it
  // had to wait (a store read, a rate-limit store, a body, setUser): a call served from the token
  // service's cache runs start to end with no promise at all.
  type Step = void | Promise<void>;

  const handle = (req: GuardRequest, res: ServerResponse, next: NextFunction, call: CallContext): Step => {
    const credential = readCredential(req, prefix, call.headers);
    if (credential.kind === 'none') {
      if (required) {
        // Matched as loosely as any router may: a case-insensitive Router inside a case-sensitive app (a
        // Router keeps its own settings) would still route `/REST/…` to the API. An ambiguous path cannot
        // be placed outside the scope either. Both need a credential.
        const canonical = canonicalizePath(pathPart(call.target), LOOSEST);
        if (!canonical.ok || scope.matches(canonical.path, false, false)) {
          deny(req, res, refuse('credentials_required'), call);
          return;
        }
      }
      next();
      return;
    }
    if (credential.kind === 'malformed') {
      deny(req, res, refuse('malformed'), call);
      return;
    }
    call.user = credential.username ?? null;
    call.via = credential.via;
    call.ip = ipOf(req, call);
    const context = { username: credential.username, ip: call.ip };
    const quick = tokens.verifySync(credential.token, context);
    if (quick !== undefined) return verified(req, res, next, call, credential.token, quick);
    return tokens.verify(credential.token, context).then((result) => verified(req, res, next, call, credential.token, result));
  };

  const verified = (req: GuardRequest, res: ServerResponse, next: NextFunction, call: CallContext, token: string, result: VerifyResult): Step => {
    if (!result.ok) {
      // Only the public id, and only when the token is well-formed, reaches the audit event.
      const parsed = parseToken(token, prefix);
      if (parsed.ok) call.tokenId = parsed.id;
      deny(req, res, refuse(result.reason), call);
      return;
    }
    call.user = result.user;
    call.tokenId = result.record.id;
    if (limiter === undefined) return authorize(req, res, next, call, result, undefined);
    return limiter.consume(result.record.id).then((outcome) => {
      if (!outcome.allowed) {
        deny(req, res, refuse('rate_limited'), call, outcome.headers);
        return;
      }
      return authorize(req, res, next, call, result, outcome.headers);
    });
  };

  const authorize = (req: GuardRequest, res: ServerResponse, next: NextFunction, call: CallContext, result: VerifiedToken, rateHeaders: Record<string, string> | undefined): Step => {
    const routing = routingOf(call.settings, options.caseSensitive, options.strict);
    const targets = dispatchTargets(req, call.target, call.headers);
    if (typeof targets === 'string') {
      deny(req, res, refuse('ambiguous_request', undefined, targets), call);
      return;
    }
    const outside = scopeRefusal(targets, routing);
    if (outside !== undefined) {
      deny(req, res, outside, call);
      return;
    }
    const mode = routing.strict ? ruleModes.strict : ruleModes.loose;
    const set = result.restrictions;
    const methods = candidateMethods(req, call.target, call.method, call.headers);
    const approval: Approval = { set, methods, targets, routing, mode, call };
    // Only JsonData constraints read a body, and only a JSON content type can satisfy them.
    const contentType = call.headers['content-type'];
    if (contentType === undefined || !isJsonContentType(contentType)) return decide(req, res, next, result, rateHeaders, approval, undefined);
    if (bodyConsumed(req)) return decide(req, res, next, result, rateHeaders, approval, req.body);
    // Once per method bit and target: a header may name thousands of methods, all but eight alike to the rules.
    let needed = false;
    let bits = 0;
    for (const method of methods) {
      const bit = methodBit(method);
      if ((bits & bit) !== 0) continue;
      bits |= bit;
      for (const url of targets) needed ||= needsJsonBody(set, { method, url }, mode);
    }
    if (!needed) return decide(req, res, next, result, rateHeaders, approval, undefined);
    return readJsonBody(req, contentType, bodyLimit).then((body) => {
      // The body may name a method of its own (`_method`), which must be allowed too.
      for (const method of candidateMethods(req, call.target, call.method, call.headers)) if (!methods.includes(method)) methods.push(method);
      return decide(req, res, next, result, rateHeaders, approval, body);
    });
  };

  const decide = (req: GuardRequest, res: ServerResponse, next: NextFunction, result: VerifiedToken, rateHeaders: Record<string, string> | undefined, approval: Approval, body: unknown): Step => {
    const call = approval.call;
    const verdict = evaluate(approval.set, call, approval.methods, approval.targets, approval.mode, body);
    if (verdict instanceof GuardError) {
      deny(req, res, verdict, call);
      return;
    }
    const principal: TokenPrincipal = { user: result.user, tokenId: result.record.id, via: call.via!, token: result.record, line: verdict };
    (req as { tokenfence?: TokenPrincipal }).tokenfence = principal;
    if (setUser === true) (req as { user?: unknown }).user = principal;
    else if (typeof setUser === 'function') {
      return Promise.resolve(setUser(principal, req)).then((user) => {
        (req as { user?: unknown }).user = user;
        complete(req, res, next, approval, rateHeaders, verdict, result.record.lastAccessed);
      });
    }
    complete(req, res, next, approval, rateHeaders, verdict, result.record.lastAccessed);
  };

  const complete = (
    req: GuardRequest,
    res: ServerResponse,
    next: NextFunction,
    approval: Approval,
    rateHeaders: Record<string, string> | undefined,
    line: number | undefined,
    usedAt: Date | null,
  ): void => {
    // The overrides tokenfence knows of were checked; a later middleware may still change the method from
    // a header, a query parameter or a body field of any name (method-override takes any getter), so the
    // method is locked to what the restrictions allow. Without method lists a change of method cannot
    // change the decision: no lock. The URL is always locked, to scope and rules alike.
    if (RestrictionSet.compiled(approval.set).hasMethods) lockMethod(req, approval);
    lockTarget(req, { approved: approval.targets, check: checkLateTarget, refusedAtDispatch: answerLateTarget, approval } as GuardTargetLock);
    if (rateHeaders !== undefined) for (const name in rateHeaders) res.setHeader(name, rateHeaders[name]!);
    // The event's time is the time the token service recorded this use (one clock read for both).
    audit(req, approval.call, line, undefined, usedAt ?? undefined);
    next();
  };

  /** Answers a call that failed on the way; never throws (it runs in promise handlers, where a throw would go unhandled). */
  const fail = (req: GuardRequest, res: ServerResponse, err: unknown, call: CallContext): void => {
    try {
      if (err instanceof GuardError) {
        // Bad input found on the way (an unreadable body): a coded refusal, not an internal error.
        deny(req, res, err, call);
        return;
      }
      report(err, 'the token guard failed; the request was refused with 503');
      deny(req, res, refuse('unavailable'), call);
    } catch (inner) {
      report(inner, 'the token guard could not answer a failed call; it answered 503 without headers of its own');
      try {
        writeGuardError(res, refuse('unavailable'));
      } catch {
        res.destroy();
      }
    }
  };
  const guard = ((req: GuardRequest, res: ServerResponse, next: NextFunction): void => {
    // No Authorization header at all (anonymous, or the host's own session): nothing to do.
    const headers = requestProperty(req, 'headers');
    if (!required && headers.authorization === undefined) {
      next();
      return;
    }
    const call: CallContext = { user: null, tokenId: undefined, via: undefined, ip: undefined, headers, target: targetOf(req), method: requestProperty(req, 'method') ?? 'GET', settings: settingsOf(req) };
    let step: Step;
    try {
      step = handle(req, res, next, call);
    } catch (err) {
      fail(req, res, err, call);
      return;
    }
    if (step !== undefined) step.catch((err: unknown) => fail(req, res, err, call));
  }) as TokenGuard;
  Object.defineProperty(guard, 'scope', { value: scope, enumerable: true });
  return guard;
}
