// What the guard reads off an Express request: the target as received, the router's matching settings,
// every method the request could run as, and the client details for audit events.
import type { IncomingMessage } from 'node:http';

/** The parts of an Express request the guard uses (Express 4 and 5 alike). */
export interface GuardRequest extends IncomingMessage {
  originalUrl?: string;
  originalMethod?: string;
  ip?: string;
  body?: unknown;
  _body?: boolean;
  app?: { get(setting: string): unknown; settings?: Record<string, unknown> };
}

/** The request target as received on the wire (`originalUrl` survives mounting and `req.url` rewrites). */
export function targetOf(req: GuardRequest): string {
  return typeof req.originalUrl === 'string' ? req.originalUrl : (req.url ?? '');
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

/** The routing of the app that runs this request, each setting overridable by the guard's options. */
export function routingOf(req: GuardRequest, caseSensitive: boolean | undefined, strict: boolean | undefined): Routing {
  // `settings` inherits a parent app's settings through its prototype, as `app.get` does.
  const settings = req.app?.settings;
  const cs = caseSensitive ?? (settings !== undefined && settings['case sensitive routing'] === true);
  const st = strict ?? (settings !== undefined && settings['strict routing'] === true);
  return ROUTING[(cs ? 1 : 0) | (st ? 2 : 0)]!;
}

/** The headers method-override and similar middleware read (lower-case). */
export const OVERRIDE_HEADERS: readonly string[] = ['x-http-method-override', 'x-http-method', 'x-method-override'];
const METHOD_PARAM = /^_method(?:$|[[.])/i;

function addSplit(methods: string[], value: unknown): void {
  if (typeof value === 'string') {
    for (const part of value.split(',')) {
      const m = part.trim().toUpperCase();
      if (m !== '' && !methods.includes(m)) methods.push(m);
    }
  } else if (Array.isArray(value)) {
    for (const v of value) addSplit(methods, v);
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
 * Every method the request could be executed as (SPEC §5): `req.method`, `req.originalMethod` (set by
 * method-override), the `X-HTTP-Method-Override`, `X-HTTP-Method` and `X-Method-Override` headers (every
 * header line, every comma-separated value), any `_method` query parameter (in any case, with bracket
 * forms, decoded leniently as qs would) and a `_method` field of an already-parsed body.
 */
export function candidateMethods(req: GuardRequest, target: string): string[] {
  const methods = [(req.method ?? 'GET').toUpperCase()];
  if (typeof req.originalMethod === 'string') addSplit(methods, req.originalMethod);
  const headers = req.headers;
  for (const name of OVERRIDE_HEADERS) {
    const value = headers[name];
    if (value !== undefined) {
      // Node joins repeated unknown headers with ", ", so every line is seen here.
      addSplit(methods, value);
    }
  }
  const q = target.indexOf('?');
  if (q >= 0 && /_method|%5f/i.test(target.slice(q))) {
    for (const pair of target.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      const name = lenientDecode(eq < 0 ? pair : pair.slice(0, eq));
      if (METHOD_PARAM.test(name)) addSplit(methods, eq < 0 ? '' : lenientDecode(pair.slice(eq + 1)));
    }
  }
  const body = req.body;
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, '_method')) addSplit(methods, (body as { _method: unknown })._method);
  return methods;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** A well-formed `X-Request-Id` header, else undefined (it reaches audit logs, so it is checked). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  const value = req.headers['x-request-id'];
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/** The client address: Express's `req.ip` (which honours `trust proxy`), else the socket's. */
export function clientIp(req: GuardRequest): string | null {
  // Without `trust proxy` (Express's default) req.ip is the socket's address; proxy-addr need not run.
  if (req.app?.settings?.['trust proxy'] === false) return req.socket?.remoteAddress ?? null;
  return req.ip ?? req.socket?.remoteAddress ?? null;
}

/** The User-Agent for audit events, cut to 256 characters. */
export function userAgentOf(req: IncomingMessage): string | undefined {
  const ua = req.headers['user-agent'];
  return ua === undefined ? undefined : ua.length > 256 ? ua.slice(0, 256) : ua;
}
