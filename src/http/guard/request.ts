// What the guard reads off an Express request: the target as received, the router's matching settings,
// every method the request could run as, and the client details for audit events.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The parts of an Express request the guard uses (Express 4 and 5 alike). */
export interface GuardRequest extends IncomingMessage {
  originalUrl?: string | undefined;
  originalMethod?: string | undefined;
  ip?: string | undefined;
  body?: unknown | undefined;
  _body?: boolean | undefined;
  baseUrl?: string | undefined;
  app?: { get(setting: string): unknown; settings?: Record<string, unknown> } | undefined;
}

/**
 * Reads a property of a request with a plain lookup instead of an inline cache.
 *
 * Express swaps the prototype of every request (`Object.setPrototypeOf(req, app.request)`), and from then
 * on V8 gives each request a hidden class of its own (see `CallContext` in guard.ts). An inline cache on
 * `req.x` then misses on every request and falls back to the runtime (0.5–1 µs under load), while
 * `Reflect.get` compiles to a lookup in the object's own descriptors and prototype chain with no cache to
 * miss: about a quarter of the cost. Same value, same getters, same semantics.
 */
export function requestProperty<K extends keyof GuardRequest>(req: GuardRequest, key: K): GuardRequest[K] {
  return Reflect.get(req, key) as GuardRequest[K];
}

/** The request target as received on the wire (`originalUrl` survives mounting and `req.url` rewrites). */
export function targetOf(req: GuardRequest): string {
  const original = requestProperty(req, 'originalUrl');
  return typeof original === 'string' ? original : (requestProperty(req, 'url') ?? '');
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
/** The request target a URL-rewrite header names: its path and query (an absolute URL loses scheme and host). */
function headerTarget(value: string): string {
  const absolute = ABSOLUTE.exec(value);
  if (absolute === null) return value;
  const rest = value.slice(absolute[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** How many header lines of the request are named `name` (lower case). */
function headerLines(req: IncomingMessage, name: string): number {
  const raw = requestProperty(req as GuardRequest, 'rawHeaders');
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) count++;
  return count;
}

/** `req.baseUrl + req.url`: where the router that runs the guard dispatches the request. */
export function seenTarget(req: GuardRequest): string {
  const base = requestProperty(req, 'baseUrl');
  const url = requestProperty(req, 'url');
  return `${typeof base === 'string' ? base : ''}${typeof url === 'string' ? url : ''}`;
}

/**
 * Every target the request could be dispatched to (SPEC §5): the target as received (`originalUrl`), the
 * `baseUrl + url` the guard sees (a host middleware before it may have rewritten `req.url`), and the path
 * of an `X-Original-URL` or `X-Rewrite-URL` header, which some proxies send and some frameworks route by.
 * A string instead says why the request is ambiguous (such a header sent twice).
 */
export function dispatchTargets(req: GuardRequest, original: string, headers: IncomingHttpHeaders): string[] | string {
  const targets = [original];
  const seen = seenTarget(req);
  if (seen !== original && !isAddedSlash(original, seen)) targets.push(seen);
  for (const name of REWRITE_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || headerLines(req, name) !== 1) return `the request has more than one ${name} header`;
    const target = headerTarget(value);
    if (!targets.includes(target)) targets.push(target);
  }
  return targets;
}
const REWRITE_HEADERS = ['x-original-url', 'x-rewrite-url'] as const;

/**
 * Whether `seen` is `original` with a `/` after its path: what Express makes of a request for exactly a
 * mount path (`/rest?x=1` reaches a Router mounted at `/rest` as `/` under baseUrl `/rest`). It routes
 * the same request, so it is no second target (under strict routing it would be refused as one).
 */
function isAddedSlash(original: string, seen: string): boolean {
  const path = pathPart(original);
  return seen.length === original.length + 1 && seen.startsWith(path) && seen.charCodeAt(path.length) === 0x2f && seen.endsWith(original.slice(path.length));
}

/** The path part of a target (no query). */
export function pathPart(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** How the host app's router matches paths: its `case sensitive routing` and `strict routing` settings. */
export interface Routing {
  readonly caseSensitive: boolean;
  readonly strict: boolean;
}

const ROUTING: readonly Routing[] = [
  { caseSensitive: false, strict: false },
  { caseSensitive: true, strict: false },
  { caseSensitive: false, strict: true },
  { caseSensitive: true, strict: true },
];

/** An Express app's settings object; a mounted app's inherits its parent's through the prototype, as `app.get` does. */
export type AppSettings = Record<string, unknown>;

let lastProto: object | null = null;
let lastSettings: AppSettings | undefined;

/**
 * The settings of the app that runs this request, if it runs in Express. Express puts `app` on the
 * request's prototype (`app.request`), one per app: it is read from there, and remembered for the last
 * prototype, rather than through the request (a slow lookup in Express; see `CallContext` in guard.ts).
 */
export function settingsOf(req: GuardRequest): AppSettings | undefined {
  const proto = Object.getPrototypeOf(req) as { app?: GuardRequest['app'] } | null;
  if (proto !== lastProto) {
    lastProto = proto;
    lastSettings = proto?.app?.settings;
  }
  // An `app` of the request's own (not Express's way, but possible) wins.
  return Object.hasOwn(req, 'app') ? requestProperty(req, 'app')?.settings : lastSettings;
}

/** The routing of the app with these settings, each setting overridable by the guard's options. */
export function routingOf(settings: AppSettings | undefined, caseSensitive: boolean | undefined, strict: boolean | undefined): Routing {
  const cs = caseSensitive ?? (settings !== undefined && settings['case sensitive routing'] === true);
  const st = strict ?? (settings !== undefined && settings['strict routing'] === true);
  return ROUTING[(cs ? 1 : 0) | (st ? 2 : 0)]!;
}

/**
 * A decoded query name that a query parser may read as `_method`: `_method` itself, its bracket and dot
 * forms, and qs's leading-bracket form `[_method]` (qs takes `[x]` at the start of a name as `x`).
 */
const METHOD_PARAM = /^\[?_method(?:$|[[\].])/i;

/** Adds each comma-separated method of `value` once; a Set keeps that linear for a header naming thousands. */
function addSplit(methods: string[], value: unknown, seen: Set<string> = new Set(methods)): void {
  if (typeof value === 'string') {
    for (const part of value.split(',')) {
      const m = part.trim().toUpperCase();
      if (m !== '' && !seen.has(m)) {
        seen.add(m);
        methods.push(m);
      }
    }
  } else if (Array.isArray(value)) {
    for (const v of value) addSplit(methods, v, seen);
  }
}

function lenientDecode(text: string): string {
  const spaced = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/**
 * Every method the request could be executed as (SPEC §5): `req.method` (or `method`, when the caller has
 * read it already), `req.originalMethod` (set by method-override), the `X-HTTP-Method-Override`,
 * `X-HTTP-Method` and `X-Method-Override` headers (every header line, every comma-separated value), any
 * `_method` query parameter (in any case, any letter percent-encoded, with bracket forms and qs's
 * `[_method]`, decoded leniently as qs would) and a
 * `_method` field of an already-parsed body.
 *
 * `originalMethod` and `body` are looked for as the request's own properties, which is how method-override
 * and the body parsers set them. Looking up a property a request does not have is slow in Express (see
 * `CallContext` in guard.ts), and most requests have neither.
 */
export function candidateMethods(
  req: GuardRequest,
  target: string,
  method: string = requestProperty(req, 'method') ?? 'GET',
  headers: IncomingHttpHeaders = requestProperty(req, 'headers'),
): string[] {
  const methods = [method.toUpperCase()];
  if (Object.hasOwn(req, 'originalMethod')) {
    const original = requestProperty(req, 'originalMethod');
    if (typeof original === 'string') addSplit(methods, original);
  }
  // Node joins repeated unknown headers with ", ", so every line is seen here. (The names are written out:
  // a lookup by a constant name is cheaper than one by a variable.)
  const a = headers['x-http-method-override'];
  const b = headers['x-http-method'];
  const c = headers['x-method-override'];
  if (a !== undefined) addSplit(methods, a);
  if (b !== undefined) addSplit(methods, b);
  if (c !== undefined) addSplit(methods, c);
  // Any name that decodes to one holding `_` has a `_` or a `%` as sent (`_%6Dethod` is `_method` too).
  // Split by hand, for a security reason: the split must find every name that qs (Express's `extended`
  // query parser) or node:querystring could read as `_method` — qs's leading-bracket and dot forms, `+` as
  // space, lenient decoding of bad escapes — and neither parser reports all the raw names it folded.
  const q = target.indexOf('?');
  if (q >= 0 && /[_%]/.test(target.slice(q))) {
    for (const pair of target.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      const name = lenientDecode(eq < 0 ? pair : pair.slice(0, eq));
      if (METHOD_PARAM.test(name)) addSplit(methods, eq < 0 ? '' : lenientDecode(pair.slice(eq + 1)));
    }
  }
  const body = Object.hasOwn(req, 'body') ? requestProperty(req, 'body') : undefined;
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, '_method')) addSplit(methods, (body as { _method: unknown })._method);
  return methods;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** A well-formed `X-Request-Id` header, else undefined (it reaches audit logs, so it is checked). */
export function requestIdOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers['x-request-id'];
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/**
 * The client address: Express's `req.ip`, else the socket's. The forwarded address is not worked out here:
 * `req.ip` is proxy-addr run with the app's own `trust proxy` setting, so the guard names the client the
 * host's logs and rate limiters name. What stays hand-written is a check, for a security reason: proxy-addr
 * returns the first untrusted `X-Forwarded-For` entry as sent, whatever it is, and a client may put a token
 * or a password there; text that is not an IP address (after dropping a port) never reaches an audit event,
 * and the socket's address is used instead.
 */
export function clientIp(req: GuardRequest, settings: AppSettings | undefined): string | null {
  const socketAddress = (): string | null => requestProperty(req, 'socket')?.remoteAddress ?? null;
  // Without `trust proxy` (Express's default) req.ip is the socket's address; proxy-addr need not run.
  if (settings?.['trust proxy'] === false) return socketAddress();
  const ip = requestProperty(req, 'ip');
  return (typeof ip === 'string' && addressOf(ip)) || socketAddress();
}

const WITH_PORT = /^(?:\[([^\]]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):\d{1,5}$/;
/** `text` as an IP address, without a port some proxies add (`203.0.113.7:51234`, `[2001:db8::1]:443`); undefined when it is none. */
function addressOf(text: string): string | undefined {
  if (isIP(text) !== 0) return text;
  const m = WITH_PORT.exec(text);
  const host = m?.[1] ?? m?.[2];
  return host !== undefined && isIP(host) !== 0 ? host : undefined;
}

/** The User-Agent for audit events, cut to 256 characters. */
export function userAgentOf(headers: IncomingHttpHeaders): string | undefined {
  const ua = headers['user-agent'];
  return ua === undefined ? undefined : ua.length > 256 ? ua.slice(0, 256) : ua;
}
