// What the guard's steps share: the guard's compiled settings, and the state of one call through it.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { RestrictionSet } from '../../rules/parse.js';
import type { EvaluateOptions } from '../../rules/types.js';
import type { AuditHook } from '../../audit/events.js';
import type { TokenService, VerifyResult } from '../../tokens/service.js';
import type { GuardError } from '../errors.js';
import type { TokenRateLimiter } from './rate-limit.js';
import type { AppSettings, GuardRequest, Routing } from './request.js';
import type { Scope } from './scope.js';
import type { NextFunction, TokenPrincipal } from './options.js';

/** The host's answer to a refusal (`options.handler`). */
export type Answer = (error: GuardError, req: GuardRequest, res: ServerResponse, next: NextFunction) => void;

/** A guard's options, checked and compiled once by `tokenGuard`. */
export interface Guard {
  readonly tokens: TokenService;
  readonly prefix: string;
  readonly scope: Scope;
  readonly required: boolean;
  readonly explain: boolean;
  readonly bodyLimit: number;
  readonly limiter: TokenRateLimiter | undefined;
  readonly setUser: boolean | ((principal: TokenPrincipal, req: GuardRequest) => unknown);
  /** Rule matching, by the router's strictness. */
  readonly ruleModes: { readonly loose: EvaluateOptions; readonly strict: EvaluateOptions };
  /** The `WWW-Authenticate` values: no credential, a bad one, one outside scope or its restrictions. */
  readonly challenge: { readonly none: string; readonly invalid: string; readonly scope: string };
  /** The `caseSensitive` and `strict` options; undefined follows the app's router. */
  readonly routing: { readonly caseSensitive: boolean | undefined; readonly strict: boolean | undefined };
  /** The host's answer to a refusal, if it gave one. */
  readonly handler: Answer | undefined;
  readonly auditHook: AuditHook | undefined;
  readonly requestId: ((req: GuardRequest) => string | undefined) | undefined;
  /** Matches the token prefix in any case. */
  readonly prefixAnyCase: RegExp;
  /** `text` with any token in it (as sent, in any case, percent-encoded) replaced by `<prefix>[redacted]`. */
  readonly redact: (text: string) => string;
  /** Reports an internal error; never throws. */
  readonly report: (error: unknown, context: string) => void;
}

/** A verify result that accepted the token. */
export type VerifiedToken = Extract<VerifyResult, { ok: true }>;

/**
 * What the guard knows of one call for its audit event and its later checks: what it read off the request,
 * and who the call acts as so far. It holds no reference to the request, the response or `next`: locks keep
 * it for the request's lifetime in WeakMaps keyed by the request, and a value that reached its own key
 * would make each entry an ephemeron cycle that only a full garbage collection frees (measured: 17 % more
 * time per call, most of it in the collector).
 *
 * Each request property is read once, here or on the way, and none after `req.tokenfence` is set. Express
 * swaps the prototype of every request (`Object.setPrototypeOf(req, app.request)`), and from then on V8
 * builds a new hidden class for each property added to it (any object whose prototype was set this way
 * does the same): every request ends up with a class of its own, so an inline cache on `req.x` misses on
 * every request (about 1 µs each on a loaded server), and setting `tokenfence` copies the class once more.
 * The reads therefore go through `requestProperty` (`Reflect.get`, a lookup with no cache to miss), once
 * each; reading from this object afterwards costs nothing.
 */
export interface CallContext {
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

/** One call on its way through the steps: the request, the response, `next`, and what the steps found. */
export interface Exchange {
  readonly req: GuardRequest;
  readonly res: ServerResponse;
  readonly next: NextFunction;
  readonly call: CallContext;
  /** The verified token, once verified. */
  token: VerifiedToken | undefined;
  /** The `RateLimit-*` headers of an allowed call under a rate limit. */
  rateHeaders: Record<string, string> | undefined;
}

/**
 * What a guard approved for a request: the rules and matching modes, and the methods and targets
 * (`baseUrl + url`, with query) it allowed, which later changes of `req.method` and `req.url` are checked
 * against (and added to).
 */
export interface Approval {
  readonly guard: Guard;
  readonly set: RestrictionSet;
  readonly methods: string[];
  readonly targets: string[];
  /** Scope matching (the router's settings). */
  readonly routing: Routing;
  /** Rule matching. */
  readonly mode: EvaluateOptions;
  readonly call: CallContext;
}
