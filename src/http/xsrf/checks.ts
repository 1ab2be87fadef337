// The checks of SPEC §9 on one request, pure (they read the request and nothing else): which requests are
// checked, the defence-in-depth Sec-Fetch-Site and Origin/Referer checks, and the content-type rule with its
// no-check header and form token.
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { parse as parseContentType } from 'content-type';
import { XsrfError } from './errors.js';
import { FORM_TOKEN_FIELD, type FormTokens } from './form-token.js';
import type { XsrfConfig } from './options.js';

/** The parts of a request the checks read: an Express request (4 or 5) after express-session has run. */
export interface XsrfRequest {
  readonly method?: string | undefined;
  /** The method before method-override changed it. */
  readonly originalMethod?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The request target as received (Express); `url` when absent. */
  readonly originalUrl?: string | undefined;
  readonly url?: string | undefined;
  /** What a body parser left, if one ran before the check. */
  readonly body?: unknown;
  /** The scheme as Express sees it (`X-Forwarded-Proto` only with `trust proxy`). */
  readonly protocol?: string | undefined;
  /** express-session's session, with the login tokenfence keeps in it. */
  readonly session?: { readonly tokenfence?: { readonly user?: unknown } | undefined } | undefined;
  readonly sessionID?: string | undefined;
  /** The token guard's principal: set when an API token authenticated the request. */
  readonly tokenfence?: unknown;
}

/** The methods never checked; every other one (TRACE, WebDAV's, unknown ones) is unsafe (fail closed). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether the request may change state: its method, or the one method-override replaced, is not GET, HEAD
 * or OPTIONS. A POST that method-override turned into a GET is still checked.
 */
export function isUnsafe(req: Pick<XsrfRequest, 'method' | 'originalMethod'>): boolean {
  const method = (req.method ?? 'GET').toUpperCase();
  // method-override sets `originalMethod` on the request itself; looking up a property an Express request
  // lacks walks its whole prototype chain, on every request (see CallContext in the guard).
  const given = Object.hasOwn(req, 'originalMethod') ? req.originalMethod : undefined;
  const original = typeof given === 'string' ? given.toUpperCase() : method;
  return !SAFE_METHODS.has(method) || !SAFE_METHODS.has(original);
}

/**
 * Whether the session cookie authenticated the request: its session has a login (a non-empty
 * `req.session.tokenfence.user`) and the token guard did not authenticate it (`req.tokenfence` is unset).
 * An `Authorization` header alone changes nothing.
 */
export function isSessionAuthenticated(req: Pick<XsrfRequest, 'session' | 'tokenfence'>): boolean {
  const user = req.session?.tokenfence?.user;
  if (typeof user !== 'string' || user === '') return false;
  // The guard sets `tokenfence` on the request itself (a cheap own-property test; see isUnsafe).
  const principal = Object.hasOwn(req, 'tokenfence') ? req.tokenfence : undefined;
  return typeof principal !== 'object' || principal === null;
}

/** The media types a cross-site HTML form (or a no-cors `fetch`) can send without a CORS preflight. */
const FORM_TYPES: ReadonlySet<string> = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/**
 * Whether a body of this Content-Type could come from a cross-site form: a form type, no Content-Type, or
 * one that does not parse (a body parser may still read it; fail closed).
 */
export function mayComeFromForm(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  try {
    return FORM_TYPES.has(parseContentType(contentType).type);
  } catch {
    return true;
  }
}

/** Whether any value of a `Sec-Fetch-Site` header is `cross-site`. */
export function isCrossSite(secFetchSite: string | undefined): boolean {
  if (secFetchSite === undefined) return false;
  return secFetchSite.split(',').some((value) => value.trim().toLowerCase() === 'cross-site');
}

/** The serialized origin of an `Origin` or `Referer` value; undefined for `null`, garbage or a non-HTTP scheme. */
export function originOf(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

/** The request's own origin as Express sees it: `req.protocol` and the Host header; undefined without a Host. */
export function ownOrigin(req: Pick<XsrfRequest, 'protocol' | 'headers'>): string | undefined {
  const host = req.headers.host;
  if (typeof host !== 'string' || host === '') return undefined;
  return originOf(`${req.protocol ?? 'http'}://${host}`);
}

/** Whether `origin` (a header value) is allowed: one of `allowed`, or the request's own origin without a list. */
function isAllowedOrigin(value: string, allowed: ReadonlySet<string> | undefined, req: XsrfRequest): boolean {
  const origin = originOf(value);
  if (origin === undefined) return false;
  return allowed === undefined ? origin === ownOrigin(req) : allowed.has(origin);
}

/** The raw query of the request target, as received (not the app's query parser's view of it). */
function rawQuery(req: XsrfRequest): string {
  const target = typeof req.originalUrl === 'string' ? req.originalUrl : (req.url ?? '');
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q + 1);
}

/**
 * The form tokens the request carries: the `atl_token` field of a parsed body, the `atl_token` query
 * parameter (read from the raw target with node:querystring, whatever query parser the app uses), and the
 * token header. Only single string values count: a repeated field or header is no token.
 */
export function formTokensOf(req: XsrfRequest, tokenHeader: string): string[] {
  const found: string[] = [];
  const body = req.body;
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, FORM_TOKEN_FIELD)) {
    const value = (body as Record<string, unknown>)[FORM_TOKEN_FIELD];
    if (typeof value === 'string') found.push(value);
  }
  const query = rawQuery(req);
  if (query !== '') {
    const value = parseQuery(query)[FORM_TOKEN_FIELD];
    if (typeof value === 'string') found.push(value);
  }
  const header = req.headers[tokenHeader];
  if (typeof header === 'string') found.push(header);
  return found;
}

/** Whether the no-check header says `no-check` (trimmed, any case). */
export function hasNoCheck(req: Pick<XsrfRequest, 'headers'>, noCheckHeader: string): boolean {
  const value = req.headers[noCheckHeader];
  return typeof value === 'string' && value.trim().toLowerCase() === 'no-check';
}

/** A header Node may give as a list (unknown headers are joined, but be safe): one string. */
const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Runs every check on `req`: the refusal, or undefined when the request may go on. Safe methods, requests
 * without a session login and requests the guard authenticated are never refused.
 */
export function checkXsrf(config: XsrfConfig, tokens: FormTokens, req: XsrfRequest): XsrfError | undefined {
  if (!isUnsafe(req) || !isSessionAuthenticated(req)) return undefined;
  const headers = req.headers;
  if (config.checkFetchSite && isCrossSite(single(headers['sec-fetch-site']))) {
    return new XsrfError('fetch-site', 'The browser marks this request Sec-Fetch-Site: cross-site: a request made with the session cookie must come from this site.');
  }
  if (config.checkOrigin) {
    const origin = headers.origin;
    if (origin !== undefined) {
      if (!isAllowedOrigin(origin, config.allowedOrigins, req)) return new XsrfError('origin', 'The Origin header of this request made with the session cookie is not an allowed origin.');
    } else {
      const referer = headers.referer;
      if (referer !== undefined && !isAllowedOrigin(referer, config.allowedOrigins, req)) {
        return new XsrfError('referer', 'The Referer header of this request made with the session cookie is not on an allowed origin.');
      }
    }
  }
  if (!mayComeFromForm(headers['content-type']) || hasNoCheck(req, config.noCheckHeader)) return undefined;
  const candidates = formTokensOf(req, config.tokenHeader);
  if (candidates.some((token) => tokens.verify(req.sessionID, token))) return undefined;
  return new XsrfError('form-token', candidates.length === 0 ? config.explainMissingToken : config.explainInvalidToken);
}
