// Bypass corpus over real HTTP (SPEC §3, §5): raw requests that try to slip past tokenGuard through path
// tricks, method overrides, query pollution, body tricks, credential tricks and scope, each sent byte for
// byte to Express 4 and Express 5; controls show that the legitimate form of every trick still passes.
import { randomBytes } from 'node:crypto';
import { parse as parseQueryString } from 'node:querystring';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Express, NextFunction, Request, Response } from 'express';
import { createTokenService, MemoryTokenStore, tokenGuard, type AuditEvent } from '../../../../src/index';
import { checksum, generateToken } from '../../../../src/tokens/format';
import { basic, EXPRESS_FLAVOURS, listen, send, type ExpressFlavour, type RawResponse, type TestServer } from '../../../support/http';

// ---------------------------------------------------------------------------------------------------
// Tokens and rules

const RULES = [
  '[GET]/rest/api/2/issue/[A-Z]+-\\d+',
  '[POST,PUT]/rest/api/2/issue/KAN-7',
  '[POST].*/rest/api/2/issue/KANBAN-100/comment.*',
  '/rest/api/2/search[QueryParam::jql==project = KAN]',
  '[POST]/rest/api/2/filter[JsonData::editable==false][JsonData::favourite==false]',
].join('\n');

/** The credentials the corpus uses; filled in beforeAll. */
interface Creds {
  /** alice, restricted by RULES */
  R: string;
  /** alice, unrestricted */
  U: string;
  /** any-user token (owner null), unrestricted */
  A: string;
  /** alice, revoked */
  V: string;
  /** alice, expired */
  E: string;
  /** R with one checksum character changed */
  flipped: string;
  /** R's id with a different secret and a recomputed (valid) checksum */
  forged: string;
  /** well-formed, never issued */
  unknown: string;
}
type CredKey = keyof Creds;
const creds = {} as Creds;
/** Every text no response body or audit event may contain. */
const secrets: string[] = [];
const auditEvents: AuditEvent[] = [];
const guardErrors: unknown[] = [];

const store = new MemoryTokenStore();
const tokens = createTokenService({ store });

beforeAll(async () => {
  const issue = async (owner: string | null, label: string, restrictions?: string): Promise<string> => (await tokens.issue({ owner, label, restrictions })).token;
  creds.R = await issue('alice', 'restricted', RULES);
  creds.U = await issue('alice', 'unrestricted');
  creds.A = await issue(null, 'any-user');
  const revoked = await tokens.issue({ owner: 'alice', label: 'revoked' });
  await tokens.revoke(revoked.record.id);
  creds.V = revoked.token;
  // A second service on the same store whose clock runs an hour behind issues a token that expired half
  // an hour ago by the real clock.
  const hourAgo = Date.now() - 3_600_000;
  const past = createTokenService({ store, clock: () => new Date(hourAgo) });
  creds.E = (await past.issue({ owner: 'alice', label: 'expired', expiresAt: new Date(hourAgo + 1_800_000) })).token;

  const last = creds.R.at(-1)!;
  creds.flipped = creds.R.slice(0, -1) + (last === 'a' ? 'b' : 'a');
  const prefix = tokens.prefix;
  const rId = creds.R.slice(prefix.length, prefix.length + 12);
  let body: string;
  do body = prefix + rId + generateToken(prefix).secret;
  while (body === creds.R.slice(0, -6));
  creds.forged = body + checksum(body);
  creds.unknown = generateToken(prefix).token;

  for (const k of ['R', 'U', 'A', 'V', 'E'] as const) secrets.push(creds[k], creds[k].slice(prefix.length + 12, prefix.length + 36));
  secrets.push(creds.flipped, creds.forged, creds.unknown);
});

afterAll(async () => {
  await tokens.close();
});

// ---------------------------------------------------------------------------------------------------
// Apps

type AppKind = 'plain' | 'override' | 'jsonFirst' | 'caseSensitive' | 'strict';
const APP_KINDS: readonly AppKind[] = ['plain', 'override', 'jsonFirst', 'caseSensitive', 'strict'];

/** What the terminal handler saw, by X-Case marker. */
interface Hit {
  method: string;
  user: string | null;
  via: string | null;
}

function buildApp(flavour: ExpressFlavour, kind: AppKind, hits: Map<string, Hit>): Express {
  const app = flavour.create();
  if (kind === 'caseSensitive') app.set('case sensitive routing', true);
  if (kind === 'strict') app.set('strict routing', true);
  const guard = tokenGuard({ tokens, audit: (e) => void auditEvents.push(e), onError: (err) => void guardErrors.push(err) });
  if (kind === 'jsonFirst') {
    app.use(flavour.json());
    app.use(guard as never);
  } else {
    app.use(guard as never);
    app.use(flavour.json());
  }
  if (kind === 'override') {
    // method-override style: a POST may name its real method in a header …
    app.use((req: Request, _res: Response, next: NextFunction) => {
      const value = req.headers['x-http-method-override'];
      if (req.method === 'POST' && typeof value === 'string') {
        (req as Request & { originalMethod?: string }).originalMethod = req.method;
        req.method = value.toUpperCase();
      }
      next();
    });
    // … or in a `_method` query parameter, as method-override's getter reads it (querystring) or as the
    // app's own query parser does (qs in Express 4 reads `[_method]` as `_method`) …
    app.use((req: Request, _res: Response, next: NextFunction) => {
      const q = req.originalUrl.indexOf('?');
      const fromQuery = q < 0 ? undefined : parseQueryString(req.originalUrl.slice(q + 1))._method;
      const value = typeof fromQuery === 'string' ? fromQuery : (req.query as Record<string, unknown>)._method;
      if (req.method === 'POST' && typeof value === 'string') req.method = value.toUpperCase();
      next();
    });
    // … or in a `_method` body field, read after express.json() (and after the guard).
    app.use((req: Request, _res: Response, next: NextFunction) => {
      const body = req.body as { _method?: unknown } | undefined;
      if (typeof body?._method === 'string') req.method = body._method;
      next();
    });
  }
  app.use((req: Request, res: Response) => {
    const id = req.headers['x-case'];
    if (typeof id === 'string') hits.set(id, { method: req.method, user: req.tokenfence?.user ?? null, via: req.tokenfence?.via ?? null });
    res.status(200).json({ reached: true });
  });
  app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ code: err.code });
  });
  return app;
}

// ---------------------------------------------------------------------------------------------------
// The corpus

type Pairs = ReadonlyArray<readonly [string, string]>;
/** The Authorization header values of a case (one header line each). */
type Auth = (c: Creds) => string[];

interface Case {
  name: string;
  app?: AppKind;
  method?: string;
  path: string | ((c: Creds) => string);
  auth?: Auth;
  headers?: Pairs | ((c: Creds) => Pairs);
  body?: string | Buffer;
  expect: 'blocked' | 'reached';
  status?: number;
  code?: string;
  /** reached: the user the handler saw on `req.tokenfence` (null: anonymous). */
  user?: string | null;
  /** reached: the `req.method` the handler saw. */
  seenMethod?: string;
}

const bearer = (k: CredKey): Auth => (c) => [`Bearer ${c[k]}`];
const basicAs = (user: string, k: CredKey): Auth => (c) => [basic(user, c[k])];
const headerValues = (...values: Array<string | ((c: Creds) => string)>): Auth => (c) => values.map((v) => (typeof v === 'string' ? v : v(c)));
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

const R = bearer('R');
const U = bearer('U');
const ISSUE = '/rest/api/2/issue/KAN-1';
const KAN7 = '/rest/api/2/issue/KAN-7';
const COMMENT = '/rest/api/2/issue/KANBAN-100/comment';
const SEARCH = '/rest/api/2/search';
const JQL = 'jql=project%20%3D%20KAN';
const FILTER = '/rest/api/2/filter';
const GOOD = JSON.stringify({ name: 'mine', editable: false, favourite: false });
const JSON_CT: Pairs = [['Content-Type', 'application/json']];
const filterBody = (value: unknown, rest: Record<string, unknown> = { favourite: false }): string => JSON.stringify({ editable: value, ...rest });

const AMBIGUOUS = { expect: 'blocked', status: 400, code: 'ambiguous_request' } as const;
const RESTRICTED = { expect: 'blocked', status: 403, code: 'restricted' } as const;
const OUTSIDE = { expect: 'blocked', status: 403, code: 'outside_token_scope' } as const;
const unauthorized = (code: string) => ({ expect: 'blocked', status: 401, code }) as const;
const REACHED = { expect: 'reached' } as const;

const PATH_TRICKS: Case[] = [
  { name: 'control: canonical path', path: ISSUE, auth: R, ...REACHED, user: 'alice' },
  { name: 'control: one trailing slash (router is not strict)', path: `${ISSUE}/`, auth: R, ...REACHED },
  { name: 'upper-case path: the router is case-insensitive, the rules are not', path: '/REST/API/2/ISSUE/KAN-1', auth: R, ...RESTRICTED },
  { name: 'lower-case issue key reaches :key as kan-1 (rules match case-sensitively)', path: '/rest/api/2/issue/kan-1', auth: R, ...RESTRICTED },
  { name: 'control: encoded letter in /r%65st is decoded once', path: '/r%65st/api/2/issue/KAN-1', auth: R, ...REACHED },
  { name: 'control: encoded letter in the issue key', path: '/rest/api/2/issue/%4BAN-1', auth: R, ...REACHED },
  { name: 'control: invalid escape in the query of a path-only rule', path: `${ISSUE}?x=%zz`, auth: R, ...REACHED },
  { name: '%2e%2e segment', path: '/rest/api/2/issue/%2e%2e/KAN-1', auth: R, ...AMBIGUOUS },
  { name: '%2E%2E segment towards /admin', path: '/rest/api/2/issue/%2E%2E/%2E%2E/%2E%2E/%2E%2E/admin', auth: R, ...AMBIGUOUS },
  { name: 'raw .. segment', path: '/rest/api/2/issue/../issue/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'raw . segment', path: '/rest/api/2/issue/./KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'trailing . segment', path: `${ISSUE}/.`, auth: R, ...AMBIGUOUS },
  { name: 'trailing .. segment', path: `${ISSUE}/..`, auth: R, ...AMBIGUOUS },
  { name: 'trailing %2e', path: `${ISSUE}%2e`, auth: R, ...AMBIGUOUS },
  { name: 'dots inside a segment are not a dot segment but do not match', path: `${ISSUE}..`, auth: R, ...RESTRICTED },
  { name: 'double slash inside', path: '/rest/api/2//issue/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'leading double slash', path: '//rest/api/2/issue/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'encoded slash %2F', path: '/rest/api/2/issue%2FKAN-1', auth: R, ...AMBIGUOUS },
  { name: 'encoded slash %2f in the scope part', path: '/rest%2fapi/2/issue/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'encoded backslash %5C', path: '/rest/api/2/issue%5CKAN-1', auth: R, ...AMBIGUOUS },
  { name: 'raw backslash', path: '/rest/api/2/issue\\KAN-1', auth: R, ...AMBIGUOUS },
  { name: ';jsessionid= matrix parameter', path: `${ISSUE};jsessionid=0123456789ABCDEF`, auth: R, ...AMBIGUOUS },
  { name: 'encoded ; (%3B) matrix parameter', path: `${ISSUE}%3Bjsessionid=abc`, auth: R, ...AMBIGUOUS },
  { name: 'matrix parameter in a middle segment', path: '/rest/api/2/issue;x=y/KAN-1', auth: R, ...AMBIGUOUS },
  { name: '%00 after the key', path: `${ISSUE}%00`, auth: R, ...AMBIGUOUS },
  { name: '%0A after the key', path: `${ISSUE}%0A`, auth: R, ...AMBIGUOUS },
  { name: 'encoded CRLF header injection', path: `${ISSUE}%0d%0aX-Injected:%201`, auth: R, ...AMBIGUOUS },
  { name: '%7F (DEL)', path: `${ISSUE}%7F`, auth: R, ...AMBIGUOUS },
  { name: '%C2%85 (C1 control NEL)', path: `${ISSUE}%C2%85`, auth: R, ...AMBIGUOUS },
  { name: 'non-UTF-8 %C0%AE%C0%AE segment', path: '/rest/api/2/issue/%C0%AE%C0%AE/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'overlong two-byte dot %C0%AE', path: `${ISSUE}%C0%AE`, auth: R, ...AMBIGUOUS },
  { name: 'overlong three-byte dot %E0%80%AE', path: `${ISSUE}%E0%80%AE`, auth: R, ...AMBIGUOUS },
  { name: 'lone byte %FF', path: `${ISSUE}%FF`, auth: R, ...AMBIGUOUS },
  { name: 'encoded UTF-16 surrogate %ED%A0%80', path: `${ISSUE}%ED%A0%80`, auth: R, ...AMBIGUOUS },
  { name: 'invalid escape %zz', path: `${ISSUE}%zz`, auth: R, ...AMBIGUOUS },
  { name: 'truncated escape at the end (%)', path: `${ISSUE}%`, auth: R, ...AMBIGUOUS },
  { name: 'truncated escape at the end (%4)', path: `${ISSUE}%4`, auth: R, ...AMBIGUOUS },
  { name: 'double-encoded dots %252e%252e', path: '/rest/api/2/issue/%252e%252e/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'raw non-ASCII byte (refused by the HTTP parser)', path: `${ISSUE}\xe9`, auth: R, expect: 'blocked', status: 400 },
  { name: 'valid UTF-8 escape of a non-ASCII letter', path: `${ISSUE}%C3%A9`, auth: R, ...RESTRICTED },
  { name: 'full-width KAN look-alike', path: '/rest/api/2/issue/%EF%BC%AB%EF%BC%A1%EF%BC%AE-1', auth: R, ...RESTRICTED },
  { name: 'Kelvin sign for K under case-insensitive matching', path: '/rest/api/2/issue/%E2%84%AAAN-1', auth: R, ...RESTRICTED },
  { name: 'encoded trailing space', path: `${ISSUE}%20`, auth: R, ...RESTRICTED },
  { name: 'encoded # (%23) stays in the path', path: `${ISSUE}%23`, auth: R, ...RESTRICTED },
  { name: 'encoded ? (%3F) does not start a query', path: `${ISSUE}%3F_method=GET`, auth: R, ...RESTRICTED },
  { name: 'control: encoded ? under a rule ending in .* is part of the path', method: 'POST', path: `${COMMENT}%3F_method=DELETE`, auth: R, ...REACHED, seenMethod: 'POST' },
  { name: 'control: empty query after ?', path: `${ISSUE}?`, auth: R, ...REACHED },
  { name: 'extra segment after an allowed path', path: `${ISSUE}/transitions`, auth: R, ...RESTRICTED },
  { name: '# fragment in the path', path: `${ISSUE}#frag`, auth: R, ...AMBIGUOUS },
  { name: '# fragment after the query', path: `${ISSUE}?x=1#frag`, auth: R, ...AMBIGUOUS },
  { name: 'absolute-form target', path: 'http://127.0.0.1/rest/api/2/issue/KAN-1', auth: R, ...AMBIGUOUS },
  { name: 'absolute-form target, unrestricted token, admin path', path: 'HTTP://127.0.0.1/admin', auth: U, ...AMBIGUOUS },
  { name: 'path over 8 KiB, unrestricted token', path: `/rest/${'a'.repeat(9000)}`, auth: U, ...AMBIGUOUS },
  { name: 'control: path just under 8 KiB, unrestricted token', path: `/rest/${'a'.repeat(8000)}`, auth: U, ...REACHED },
  { name: '%2e%2e with an unrestricted token', path: '/rest/%2e%2e/admin', auth: U, ...AMBIGUOUS },
  { name: '..%2F climb with an unrestricted token', path: '/rest/x/..%2F..%2Fadmin', auth: U, ...AMBIGUOUS },
  { name: 'control: ambiguous path without any credential passes on as anonymous', path: '/rest/%2e%2e/admin', ...REACHED, user: null },
  // The host routes case-sensitively / strictly: so does the guard.
  { name: 'control: case-sensitive app, exact case', app: 'caseSensitive', path: ISSUE, auth: R, ...REACHED },
  { name: 'case-sensitive app: /REST is outside the scope', app: 'caseSensitive', path: '/REST/api/2/issue/KAN-1', auth: R, ...OUTSIDE },
  { name: 'case-sensitive app: /rest/API does not match the rule', app: 'caseSensitive', path: '/rest/API/2/issue/KAN-1', auth: R, ...RESTRICTED },
  { name: 'case-sensitive app: Issue does not match the rule', app: 'caseSensitive', path: '/rest/api/2/Issue/KAN-1', auth: R, ...RESTRICTED },
  { name: 'case-sensitive app: lower-case key does not match [A-Z]', app: 'caseSensitive', path: '/rest/api/2/issue/kan-1', auth: R, ...RESTRICTED },
  { name: 'control: strict app, no trailing slash', app: 'strict', path: ISSUE, auth: R, ...REACHED },
  { name: 'strict app: a trailing slash is a different route', app: 'strict', path: `${ISSUE}/`, auth: R, ...RESTRICTED },
];

const METHOD_TRICKS: Case[] = [
  { name: 'X-HTTP-Method-Override: DELETE', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'DELETE']], ...RESTRICTED },
  { name: 'X-HTTP-Method: DELETE', path: ISSUE, auth: R, headers: [['X-HTTP-Method', 'DELETE']], ...RESTRICTED },
  { name: 'X-Method-Override: DELETE', path: ISSUE, auth: R, headers: [['X-Method-Override', 'DELETE']], ...RESTRICTED },
  { name: 'override value in lower case', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'delete']], ...RESTRICTED },
  { name: 'override comma list GET, DELETE', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'GET, DELETE']], ...RESTRICTED },
  { name: 'override comma list without space', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'GET,PUT']], ...RESTRICTED },
  { name: 'repeated override header, second one DELETE', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'GET'], ['X-HTTP-Method-Override', 'DELETE']], ...RESTRICTED },
  { name: 'override header name in lower case', path: ISSUE, auth: R, headers: [['x-http-method-override', 'PATCH']], ...RESTRICTED },
  { name: 'two different override headers, one bad', path: ISSUE, auth: R, headers: [['X-HTTP-Method', 'GET'], ['X-Method-Override', 'DELETE']], ...RESTRICTED },
  { name: 'control: override naming the same method', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'GET']], ...REACHED },
  { name: 'control: override HEAD on a GET rule (GET admits HEAD)', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'head']], ...REACHED },
  { name: '_method=DELETE query', path: `${ISSUE}?_method=DELETE`, auth: R, ...RESTRICTED },
  { name: '%5Fmethod=DELETE query', path: `${ISSUE}?%5Fmethod=DELETE`, auth: R, ...RESTRICTED },
  { name: '_METHOD=DELETE query', path: `${ISSUE}?_METHOD=DELETE`, auth: R, ...RESTRICTED },
  { name: '_method[]=DELETE query', path: `${ISSUE}?_method[]=DELETE`, auth: R, ...RESTRICTED },
  { name: '_method%5B%5D=DELETE query', path: `${ISSUE}?_method%5B%5D=DELETE`, auth: R, ...RESTRICTED },
  { name: '_method.x=DELETE query', path: `${ISSUE}?_method.x=DELETE`, auth: R, ...RESTRICTED },
  { name: '_method=delete (lower case)', path: `${ISSUE}?_method=delete`, auth: R, ...RESTRICTED },
  { name: '_method value with an escape DEL%45TE', path: `${ISSUE}?x=1&_method=DEL%45TE`, auth: R, ...RESTRICTED },
  { name: '_method value with a leading +', path: `${ISSUE}?_method=+DELETE`, auth: R, ...RESTRICTED },
  { name: '_method twice, second bad', path: `${ISSUE}?_method=GET&_method=DELETE`, auth: R, ...RESTRICTED },
  { name: 'control: _method=GET query', path: `${ISSUE}?_method=GET`, auth: R, ...REACHED },
  { name: 'control: HEAD on a GET rule', method: 'HEAD', path: ISSUE, auth: R, ...REACHED },
  { name: 'OPTIONS on a GET rule', method: 'OPTIONS', path: ISSUE, auth: R, ...RESTRICTED },
  { name: 'DELETE on a GET rule', method: 'DELETE', path: ISSUE, auth: R, ...RESTRICTED },
  { name: 'PUT on a GET rule', method: 'PUT', path: ISSUE, auth: R, ...RESTRICTED },
  { name: 'HEAD on a POST rule', method: 'HEAD', path: COMMENT, auth: R, ...RESTRICTED },
  { name: 'GET on a POST rule', path: COMMENT, auth: R, ...RESTRICTED },
  { name: 'control: POST on a POST rule', method: 'POST', path: COMMENT, auth: R, headers: [['Content-Type', 'text/plain']], body: 'hello', ...REACHED },
  { name: 'control: POST with override PUT, both allowed', method: 'POST', path: KAN7, auth: R, headers: [['X-HTTP-Method-Override', 'PUT']], ...REACHED },
  { name: 'POST with override DELETE', method: 'POST', path: KAN7, auth: R, headers: [['X-HTTP-Method-Override', 'DELETE']], ...RESTRICTED },
  // express.json() runs before the guard: the parsed body's _method is a candidate method.
  { name: 'json-first app: body _method DELETE', app: 'jsonFirst', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"DELETE"}', ...RESTRICTED },
  { name: 'json-first app: body _method array with DELETE', app: 'jsonFirst', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":["PUT","DELETE"]}', ...RESTRICTED },
  { name: 'json-first app: body _method comma list', app: 'jsonFirst', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"put, delete"}', ...RESTRICTED },
  { name: 'control: json-first app, body _method PUT', app: 'jsonFirst', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"PUT"}', ...REACHED },
  // method-override style middleware after the guard; req.method is locked to allowed methods.
  { name: 'control: override app, header PUT is applied', app: 'override', method: 'POST', path: KAN7, auth: R, headers: [['X-HTTP-Method-Override', 'PUT']], ...REACHED, seenMethod: 'PUT' },
  { name: 'override app: header DELETE', app: 'override', method: 'POST', path: KAN7, auth: R, headers: [['X-HTTP-Method-Override', 'DELETE']], ...RESTRICTED },
  { name: 'override app: POST overridden to GET where POST is not allowed', app: 'override', method: 'POST', path: ISSUE, auth: R, headers: [['X-HTTP-Method-Override', 'GET']], ...RESTRICTED },
  // A query override read after the guard, on a POST with Content-Length: 0 (no body, so no method lock): the guard must see it however it is written.
  { name: 'control: override app, ?_method=PUT after the guard', app: 'override', method: 'POST', path: `${KAN7}?_method=PUT`, auth: R, body: '', ...REACHED, seenMethod: 'PUT' },
  { name: 'control: override app, ?_%6Dethod=PUT (an encoded letter) after the guard', app: 'override', method: 'POST', path: `${KAN7}?_%6Dethod=PUT`, auth: R, body: '', ...REACHED, seenMethod: 'PUT' },
  { name: 'override app: ?_method=DELETE', app: 'override', method: 'POST', path: `${KAN7}?_method=DELETE`, auth: R, body: '', ...RESTRICTED },
  { name: 'override app: ?_%6Dethod=DELETE (an encoded letter)', app: 'override', method: 'POST', path: `${KAN7}?_%6Dethod=DELETE`, auth: R, body: '', ...RESTRICTED },
  { name: 'override app: ?_meth%6Fd=DELETE (an encoded letter)', app: 'override', method: 'POST', path: `${KAN7}?_meth%6Fd=DELETE`, auth: R, body: '', ...RESTRICTED },
  { name: 'override app: ?%5B_method%5D=DELETE (qs reads [x] as x)', app: 'override', method: 'POST', path: `${KAN7}?%5B_method%5D=DELETE`, auth: R, body: '', ...RESTRICTED },
  { name: 'override app: ?[_method]=DELETE with raw brackets', app: 'override', method: 'POST', path: `${KAN7}?[_method]=DELETE`, auth: R, body: '', ...RESTRICTED },
  { name: 'control: override app, body _method PUT after the guard', app: 'override', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"PUT"}', ...REACHED, seenMethod: 'PUT' },
  { name: 'override app: body _method DELETE after the guard (locked method)', app: 'override', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"DELETE"}', ...RESTRICTED },
  { name: 'override app: body _method delete in lower case after the guard', app: 'override', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"delete"}', ...RESTRICTED },
  { name: 'override app: body _method OPTIONS after the guard', app: 'override', method: 'POST', path: KAN7, auth: R, headers: JSON_CT, body: '{"_method":"OPTIONS"}', ...RESTRICTED },
  { name: 'override app: JsonData rule body that also names _method DELETE', app: 'override', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody(false, { favourite: false, _method: 'DELETE' }), ...RESTRICTED },
  { name: 'control: override app, unrestricted token may override to DELETE', app: 'override', method: 'POST', path: '/rest/api/2/anything', auth: U, headers: JSON_CT, body: '{"_method":"DELETE"}', ...REACHED, seenMethod: 'DELETE' },
];

const QUERY_TRICKS: Case[] = [
  { name: 'control: jql with %20', path: `${SEARCH}?${JQL}`, auth: R, ...REACHED },
  { name: 'control: jql with + for spaces', path: `${SEARCH}?jql=project+%3D+KAN`, auth: R, ...REACHED },
  { name: 'control: jql with a raw = in the value (split on the first =)', path: `${SEARCH}?jql=project+=+KAN`, auth: R, ...REACHED },
  { name: 'control: lower-case hex escapes', path: `${SEARCH}?jql=project%20%3d%20KAN`, auth: R, ...REACHED },
  { name: 'control: empty pairs and other parameters', path: `${SEARCH}?${JQL}&&&startAt=0`, auth: R, ...REACHED },
  { name: 'control: trailing slash on the path', path: `${SEARCH}/?${JQL}`, auth: R, ...REACHED },
  { name: 'the same good jql twice (it reaches the handler as an array)', path: `${SEARCH}?${JQL}&jql=project+%3D+KAN`, auth: R, ...RESTRICTED },
  { name: 'twenty-one good jql values (qs turns them into an object)', path: `${SEARCH}?${Array.from({ length: 21 }, () => JQL).join('&')}`, auth: R, ...RESTRICTED },
  { name: 'duplicate jql, second fails', path: `${SEARCH}?${JQL}&jql=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'duplicate jql, first fails', path: `${SEARCH}?jql=project%20%3D%20ADMIN&${JQL}`, auth: R, ...RESTRICTED },
  { name: 'jql plus jql[]', path: `${SEARCH}?${JQL}&jql[]=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'jql plus jql[x]', path: `${SEARCH}?${JQL}&jql[x]=y`, auth: R, ...RESTRICTED },
  { name: 'jql plus jql.x', path: `${SEARCH}?${JQL}&jql.x=y`, auth: R, ...RESTRICTED },
  { name: 'only an encoded jql%5B%5D', path: `${SEARCH}?jql%5B%5D=project%20%3D%20KAN`, auth: R, ...RESTRICTED },
  { name: 'jql plus encoded jql%5B0%5D', path: `${SEARCH}?${JQL}&jql%5B0%5D=x`, auth: R, ...RESTRICTED },
  { name: 'jql plus encoded jql%2Ex', path: `${SEARCH}?${JQL}&jql%2Ex=y`, auth: R, ...RESTRICTED },
  // qs reads a leading bracket group as the name ([jql] is jql), and qs and querystring read only the first 1,000 parts.
  { name: 'jql plus %5Bjql%5D (qs reads [jql] as jql)', path: `${SEARCH}?${JQL}&%5Bjql%5D=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'jql plus raw [jql]', path: `${SEARCH}?${JQL}&[jql]=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'jql plus [jql]x (qs drops the x)', path: `${SEARCH}?${JQL}&[jql]x=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'jql plus %5Bjql%5D%5D (qs drops the second bracket)', path: `${SEARCH}?${JQL}&%5Bjql%5D%5D=project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'good jql after 1,000 empty parts (the host never reads it)', path: `${SEARCH}?${'&'.repeat(1000)}${JQL}`, auth: R, ...AMBIGUOUS },
  { name: 'bad [jql], 1,000 empty parts, then a good jql', path: `${SEARCH}?%5Bjql%5D=project%20%3D%20ADMIN${'&'.repeat(1000)}${JQL}`, auth: R, ...AMBIGUOUS },
  { name: 'control: good jql after 998 empty parts', path: `${SEARCH}?${'&'.repeat(998)}${JQL}`, auth: R, ...REACHED },
  { name: 'invalid escape %zz in another parameter', path: `${SEARCH}?${JQL}&x=%zz`, auth: R, ...AMBIGUOUS },
  { name: 'invalid escape at the end of the jql value', path: `${SEARCH}?${JQL}%zz`, auth: R, ...AMBIGUOUS },
  { name: 'non-UTF-8 escape in another parameter', path: `${SEARCH}?${JQL}&x=%C0%AE`, auth: R, ...AMBIGUOUS },
  { name: 'query over 8 KiB', path: `${SEARCH}?${JQL}&pad=${'a'.repeat(9000)}`, auth: R, ...RESTRICTED },
  { name: 'jql value over 4 KiB', path: `${SEARCH}?jql=${'a'.repeat(5000)}`, auth: R, ...RESTRICTED },
  { name: 'encoded & and = inside the jql value', path: `${SEARCH}?${JQL}%26jql%3Dproject%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'encoded %00 after the jql value', path: `${SEARCH}?${JQL}%00`, auth: R, ...RESTRICTED },
  { name: '%2B is a literal plus, not a space', path: `${SEARCH}?jql=project%2B%3D%2BKAN`, auth: R, ...RESTRICTED },
  { name: 'parameter name in another case', path: `${SEARCH}?JQL=project%20%3D%20KAN`, auth: R, ...RESTRICTED },
  { name: 'jql value in another case', path: `${SEARCH}?jql=PROJECT%20%3D%20KAN`, auth: R, ...RESTRICTED },
  { name: 'no query at all', path: SEARCH, auth: R, ...RESTRICTED },
  { name: 'jql without =', path: `${SEARCH}?jql`, auth: R, ...RESTRICTED },
  { name: 'jql empty', path: `${SEARCH}?jql=`, auth: R, ...RESTRICTED },
  { name: 'jql extended with OR', path: `${SEARCH}?jql=project%20%3D%20KAN%20OR%20project%20%3D%20ADMIN`, auth: R, ...RESTRICTED },
  { name: 'matrix parameter carrying the jql', path: `${SEARCH};jql=project%20%3D%20ADMIN?${JQL}`, auth: R, ...AMBIGUOUS },
];

const BODY_TRICKS: Case[] = [
  { name: 'control: application/json', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: GOOD, ...REACHED },
  { name: 'control: application/json; charset=utf-8', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json; charset=utf-8']], body: GOOD, ...REACHED },
  { name: 'control: quoted charset="UTF-8"', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json; charset="UTF-8"']], body: GOOD, ...REACHED },
  { name: 'control: application/json-patch+json is JSON', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json-patch+json']], body: GOOD, ...REACHED },
  { name: 'control: APPLICATION/JSON in upper case', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'APPLICATION/JSON']], body: GOOD, ...REACHED },
  { name: 'control: gzip content-encoding of a good body', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'gzip']], body: gzipSync(GOOD), ...REACHED },
  { name: 'control: deflate content-encoding of a good body', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'deflate']], body: deflateSync(GOOD), ...REACHED },
  { name: 'control: br content-encoding of a good body', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'br']], body: brotliCompressSync(GOOD), ...REACHED },
  { name: 'string values "false" (truthy in the handler)', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody('false', { favourite: 'false' }), ...RESTRICTED },
  { name: 'array values of matching scalars under a plain path', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody([false, 'false']), ...RESTRICTED },
  { name: 'array [false] under a plain path', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody([false]), ...RESTRICTED },
  { name: 'array ["false"] under a plain path', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody(['false']), ...RESTRICTED },
  { name: 'control: duplicate key whose last value is good', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"editable":true,"favourite":false,"editable":false}', ...REACHED },
  { name: 'control: json-first app, host-parsed good body', app: 'jsonFirst', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: GOOD, ...REACHED },
  { name: 'control: trailing slash with a good body', method: 'POST', path: `${FILTER}/`, auth: R, headers: JSON_CT, body: GOOD, ...REACHED },
  { name: 'text/plain carrying JSON', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'text/plain']], body: GOOD, ...RESTRICTED },
  { name: 'form-urlencoded fields', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'editable=false&favourite=false', ...RESTRICTED },
  { name: 'no content type', method: 'POST', path: FILTER, auth: R, body: GOOD, ...RESTRICTED },
  { name: 'multipart/form-data', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'multipart/form-data; boundary=x']], body: '--x\r\nContent-Disposition: form-data; name="editable"\r\n\r\nfalse\r\n--x--\r\n', ...RESTRICTED },
  { name: 'content type list starting with application/json', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json, text/plain']], body: GOOD, ...RESTRICTED },
  { name: 'application/x-json is not JSON', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/x-json']], body: GOOD, ...RESTRICTED },
  { name: 'duplicate key whose last value is bad', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"editable":false,"favourite":false,"editable":true}', ...RESTRICTED },
  { name: '__proto__ key', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"__proto__":{"editable":false},"favourite":false}', expect: 'blocked', status: 400, code: 'forbidden_json_key' },
  { name: 'constructor.prototype key', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"constructor":{"prototype":{"editable":false}},"favourite":false}', expect: 'blocked', status: 400, code: 'forbidden_json_key' },
  { name: 'json-first app: host-parsed __proto__ is not an own editable', app: 'jsonFirst', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"__proto__":{"editable":false},"favourite":false}', ...RESTRICTED },
  { name: 'truncated JSON', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"editable":false,"favourite":false', expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'trailing garbage after JSON', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: `${GOOD}garbage`, expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'charset=utf-16le', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json; charset=utf-16le']], body: Buffer.from(GOOD, 'utf16le'), expect: 'blocked', status: 415, code: 'unsupported_body' },
  { name: 'charset=latin1', method: 'POST', path: FILTER, auth: R, headers: [['Content-Type', 'application/json; charset=latin1']], body: Buffer.from(GOOD, 'latin1'), expect: 'blocked', status: 415, code: 'unsupported_body' },
  { name: 'non-UTF-8 bytes in a string', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: Buffer.concat([Buffer.from('{"editable":false,"favourite":false,"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]), expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'top-level string', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '"editable"', expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'top-level number', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '1', expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'top-level null', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: 'null', expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'top-level array of a good object', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: `[${GOOD}]`, ...RESTRICTED },
  { name: 'empty JSON body', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '', ...RESTRICTED },
  { name: 'body over 100kb with Content-Length', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody(false, { favourite: false, pad: 'a'.repeat(110_000) }), expect: 'blocked', status: 413, code: 'body_too_large' },
  { name: 'body over 100kb, chunked', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Transfer-Encoding', 'chunked']], body: filterBody(false, { favourite: false, pad: 'a'.repeat(110_000) }), expect: 'blocked', status: 413, code: 'body_too_large' },
  { name: 'gzip bomb over 100kb once inflated', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'gzip']], body: gzipSync(filterBody(false, { favourite: false, pad: '0'.repeat(2_000_000) })), expect: 'blocked', status: 413, code: 'body_too_large' },
  // zlib ends a deflate or brotli stream where its data ends and ignores the rest (a second body for a later parser).
  { name: 'deflate body followed by a second deflate body', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'deflate']], body: Buffer.concat([deflateSync(GOOD), deflateSync(filterBody(true))]), expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'br body followed by a stray byte', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'br']], body: Buffer.concat([brotliCompressSync(GOOD), Buffer.from(' ')]), expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'unknown content-encoding', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'compress']], body: GOOD, expect: 'blocked', status: 415, code: 'unsupported_body' },
  { name: 'gzip content-encoding on a plain body', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['Content-Encoding', 'gzip']], body: GOOD, expect: 'blocked', status: 400, code: 'invalid_json' },
  { name: 'nested object where a scalar is expected', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody({ value: false }), ...RESTRICTED },
  { name: 'array with one bad element', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody([false, true]), ...RESTRICTED },
  { name: 'empty array', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody([]), ...RESTRICTED },
  { name: 'nested array', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody([[false]]), ...RESTRICTED },
  { name: 'null value', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody(null), ...RESTRICTED },
  { name: 'missing key', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"favourite":false}', ...RESTRICTED },
  { name: 'value with a trailing space', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody('false '), ...RESTRICTED },
  { name: 'JsonData value in another case', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody('FALSE'), ...RESTRICTED },
  { name: 'number 0 for false', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: filterBody(0), ...RESTRICTED },
  { name: 'the key only deeper in the tree', method: 'POST', path: FILTER, auth: R, headers: JSON_CT, body: '{"nested":{"editable":false},"favourite":false}', ...RESTRICTED },
  { name: 'good body with PUT', method: 'PUT', path: FILTER, auth: R, headers: JSON_CT, body: GOOD, ...RESTRICTED },
  { name: 'good body with ?_method=PUT', method: 'POST', path: `${FILTER}?_method=PUT`, auth: R, headers: JSON_CT, body: GOOD, ...RESTRICTED },
  { name: 'good body with X-HTTP-Method-Override: DELETE', method: 'POST', path: FILTER, auth: R, headers: [...JSON_CT, ['X-HTTP-Method-Override', 'DELETE']], body: GOOD, ...RESTRICTED },
];

const CREDENTIAL_TRICKS: Case[] = [
  { name: 'control: lower-case scheme bearer', path: ISSUE, auth: headerValues((c) => `bearer ${c.R}`), ...REACHED, user: 'alice' },
  { name: 'control: upper-case scheme BEARER', path: ISSUE, auth: headerValues((c) => `BEARER ${c.R}`), ...REACHED, user: 'alice' },
  { name: 'control: Basic with the owner', path: ISSUE, auth: basicAs('alice', 'R'), ...REACHED, user: 'alice' },
  { name: 'control: lower-case scheme basic', path: ISSUE, auth: headerValues((c) => `basic ${b64(`alice:${c.R}`)}`), ...REACHED, user: 'alice' },
  { name: 'control: Basic user name in another case', path: ISSUE, auth: basicAs('ALICE', 'R'), ...REACHED, user: 'alice' },
  { name: 'control: Basic user name in full-width (NFKC) form', path: ISSUE, auth: basicAs('\uff41\uff4c\uff49\uff43\uff45', 'R'), ...REACHED, user: 'alice' },
  { name: 'control: any-user token with Basic acts as the Basic user', path: ISSUE, auth: basicAs('bob', 'A'), ...REACHED, user: 'bob' },
  { name: 'control: several spaces after the scheme (1*SP)', path: ISSUE, auth: headerValues((c) => `Bearer   ${c.R}`), ...REACHED, user: 'alice' },
  { name: 'two identical Authorization headers', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R}`, (c) => `Bearer ${c.R}`), ...unauthorized('malformed') },
  { name: 'token plus a second foreign Authorization header', path: ISSUE, headers: [['authorization', 'Basic Zm9vOmJhcg==']], auth: R, ...unauthorized('malformed') },
  { name: 'Bearer <t> <t>', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R} ${c.R}`), ...unauthorized('malformed') },
  { name: 'two credentials in one header, comma separated', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R}, Bearer ${c.U}`), ...unauthorized('malformed') },
  { name: 'quoted token', path: ISSUE, auth: headerValues((c) => `Bearer "${c.R}"`), ...unauthorized('malformed') },
  { name: 'tab between scheme and token', path: ISSUE, auth: headerValues((c) => `Bearer\t${c.R}`), ...unauthorized('malformed') },
  { name: 'colon instead of space after the scheme', path: ISSUE, auth: headerValues((c) => `Bearer:${c.R}`), ...unauthorized('malformed') },
  { name: 'token without a scheme', path: ISSUE, auth: headerValues((c) => c.R), ...unauthorized('malformed') },
  { name: 'unknown scheme Token', path: ISSUE, auth: headerValues((c) => `Token ${c.R}`), ...unauthorized('malformed') },
  { name: 'prefix inside a foreign scheme', path: ISSUE, auth: headerValues('Digest username="tfk_x", realm="r"'), ...unauthorized('malformed') },
  { name: 'token with an extra character', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R}x`), ...unauthorized('malformed') },
  { name: 'token missing its last character', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R.slice(0, -1)}`), ...unauthorized('malformed') },
  { name: 'checksum character flipped', path: ISSUE, auth: bearer('flipped'), ...unauthorized('checksum') },
  { name: 'forged secret with a recomputed checksum', path: ISSUE, auth: bearer('forged'), ...unauthorized('unknown') },
  { name: 'well-formed token never issued', path: ISSUE, auth: bearer('unknown'), ...unauthorized('unknown') },
  { name: 'Basic with another user', path: ISSUE, auth: basicAs('bob', 'R'), ...unauthorized('user_mismatch') },
  { name: 'Basic user name with a trailing space', path: ISSUE, auth: basicAs('alice ', 'R'), ...unauthorized('user_mismatch') },
  { name: 'Basic user name with a zero-width space', path: ISSUE, auth: basicAs('ali\u200bce', 'R'), ...unauthorized('user_mismatch') },
  { name: 'token with token68 padding appended', path: ISSUE, auth: headerValues((c) => `Bearer ${c.R}==`), ...unauthorized('malformed') },
  { name: 'Basic with unpadded base64', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice:${c.R}`).replace(/=+$/, '')}`), ...unauthorized('malformed') },
  { name: 'Basic with surplus padding', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice:${c.R}`)}=`), ...unauthorized('malformed') },
  { name: 'Basic without a colon', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice${c.R}`)}`), ...unauthorized('malformed') },
  { name: 'Basic with an empty user name', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`:${c.R}`)}`), ...unauthorized('malformed') },
  { name: 'Basic password with text after the token', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice:${c.R}:extra`)}`), ...unauthorized('malformed') },
  { name: 'Basic user name with a control character', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice\u0001:${c.R}`)}`), ...unauthorized('malformed') },
  { name: 'any-user token, Basic user name with a right-to-left override', path: ISSUE, auth: basicAs('eve\u202enimda', 'A'), ...unauthorized('malformed') },
  { name: 'any-user token, Basic user name with a line separator', path: ISSUE, auth: basicAs('eve\u2028admin', 'A'), ...unauthorized('malformed') },
  { name: 'any-user token, Basic user name with a C1 control (NEL)', path: ISSUE, auth: basicAs('eve\u0085admin', 'A'), ...unauthorized('malformed') },
  { name: 'Basic user name holding the prefix', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`tfk_alice:${c.R}`)}`), ...unauthorized('malformed') },
  { name: 'Basic password that is a Bearer credential', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice:Bearer ${c.R}`)}`), ...unauthorized('malformed') },
  { name: '10 KB Authorization value holding the prefix', path: ISSUE, auth: headerValues((c) => `Bearer ${'A'.repeat(10_000)}${c.R}`), ...unauthorized('malformed') },
  { name: '10 KB Basic password starting with the token', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`alice:${c.R}${'A'.repeat(7_500)}`)}`), ...unauthorized('malformed') },
  { name: 'revoked token', path: ISSUE, auth: bearer('V'), ...unauthorized('revoked') },
  { name: 'revoked token with Basic', path: ISSUE, auth: basicAs('alice', 'V'), ...unauthorized('revoked') },
  { name: 'expired token', path: ISSUE, auth: bearer('E'), ...unauthorized('expired') },
  { name: 'any-user token as Bearer', path: ISSUE, auth: bearer('A'), ...unauthorized('user_required') },
  { name: 'any-user token with an empty Basic user', path: ISSUE, auth: headerValues((c) => `Basic ${b64(`:${c.A}`)}`), ...unauthorized('malformed') },
  { name: 'control: token only in the query string is ignored (anonymous)', path: (c) => `${ISSUE}?access_token=${c.R}`, ...REACHED, user: null },
  { name: 'control: token only in a custom header is ignored (anonymous)', path: ISSUE, headers: (c) => [['X-Api-Token', c.R]], ...REACHED, user: null },
  { name: 'control: token only in Proxy-Authorization is ignored (anonymous)', path: ISSUE, headers: (c) => [['Proxy-Authorization', `Bearer ${c.R}`]], ...REACHED, user: null },
  { name: 'control: Basic with an ordinary password passes through untouched', path: ISSUE, auth: () => [basic('alice', 'hunter2')], ...REACHED, user: null },
  { name: 'control: a foreign Bearer credential passes through untouched', path: ISSUE, auth: () => ['Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo'], ...REACHED, user: null },
];

const SCOPE_TRICKS: Case[] = [
  { name: 'unrestricted token on /admin', path: '/admin', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on /api/...', path: '/api/v1/users', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on /rest itself', path: '/rest', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on /rest/', path: '/rest/', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on /restx/...', path: '/restx/api/2', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on /rest-api/...', path: '/rest-api/2', auth: U, ...OUTSIDE },
  { name: 'unrestricted token on the root', path: '/', auth: U, ...OUTSIDE },
  { name: 'encoded /%72estx decodes outside the scope', path: '/%72estx/api', auth: U, ...OUTSIDE },
  { name: '/rest only in the query', path: '/admin?next=/rest/api', auth: U, ...OUTSIDE },
  { name: 'rule with a leading .* cannot reach outside the scope', method: 'POST', path: '/admin/rest/api/2/issue/KANBAN-100/comment', auth: R, ...OUTSIDE },
  { name: 'any-user token with Basic outside the scope', path: '/admin', auth: basicAs('bob', 'A'), ...OUTSIDE },
  { name: 'climb from /admin into /rest with an encoded slash', path: '/admin/..%2Frest/api', auth: U, ...AMBIGUOUS },
  { name: 'control: unrestricted token inside the scope', path: '/rest/api/2/anything', auth: U, ...REACHED, user: 'alice' },
  { name: 'control: unrestricted token, /r%65st decodes inside the scope', path: '/r%65st/api/2/issue/KAN-1', auth: U, ...REACHED, user: 'alice' },
  { name: 'control: unrestricted token, /%72est decodes inside the scope', path: '/%72est/api', auth: U, ...REACHED },
  { name: 'control: unrestricted token, /REST in upper case', path: '/REST/api/2/myself', auth: U, ...REACHED },
  { name: 'encoded /r%65st then restrictions apply', path: '/r%65st/api/2/issue/KAN-1?_method=DELETE', auth: R, ...RESTRICTED },
  { name: 'control: no credential outside the scope is not the guard\'s business', path: '/admin', ...REACHED, user: null },
  { name: 'control: no credential inside the scope is anonymous', path: ISSUE, ...REACHED, user: null },
  { name: 'control: restricted token, POST comment sub-resource', method: 'POST', path: `${COMMENT}/10001`, auth: R, ...REACHED },
  { name: 'restricted token, a similar issue key', method: 'POST', path: '/rest/api/2/issue/KANBAN-1000/comment', auth: R, ...RESTRICTED },
];

const CORPUS: ReadonlyArray<Case & { id: number }> = [...PATH_TRICKS, ...METHOD_TRICKS, ...QUERY_TRICKS, ...BODY_TRICKS, ...CREDENTIAL_TRICKS, ...SCOPE_TRICKS].map((c, i) => ({ ...c, id: i + 1 }));

// ---------------------------------------------------------------------------------------------------
// The runner

function codeOf(res: RawResponse): string | undefined {
  try {
    const body = res.json<{ error?: { code?: string }; code?: string }>();
    return body.error?.code ?? body.code;
  } catch {
    return undefined;
  }
}

test('the corpus is large, distinct and has controls in every category', () => {
  expect(CORPUS.length).toBeGreaterThanOrEqual(120);
  expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
  const controls = CORPUS.filter((c) => c.expect === 'reached');
  expect(controls.length).toBeGreaterThanOrEqual(20);
  for (const category of [PATH_TRICKS, METHOD_TRICKS, QUERY_TRICKS, BODY_TRICKS, CREDENTIAL_TRICKS, SCOPE_TRICKS]) {
    expect(category.filter((c) => c.expect === 'reached').length).toBeGreaterThanOrEqual(3);
    expect(category.filter((c) => c.expect === 'blocked').length).toBeGreaterThanOrEqual(5);
  }
});

describe.each(EXPRESS_FLAVOURS)('bypass corpus on $name', (flavour) => {
  const hits = new Map<string, Hit>();
  const servers = new Map<AppKind, TestServer>();

  beforeAll(async () => {
    for (const kind of APP_KINDS) servers.set(kind, await listen(buildApp(flavour, kind, hits) as never));
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.close();
  });

  it.each(CORPUS)('#$id $expect: $name', async (c) => {
    const marker = `${flavour.name}-${c.id}-${randomBytes(6).toString('hex')}`;
    const headers: Array<readonly [string, string]> = [['X-Case', marker]];
    for (const value of c.auth?.(creds) ?? []) headers.push(['Authorization', value]);
    headers.push(...(typeof c.headers === 'function' ? c.headers(creds) : (c.headers ?? [])));
    const method = c.method ?? 'GET';
    const res = await send(servers.get(c.app ?? 'plain')!.port, {
      method,
      path: typeof c.path === 'function' ? c.path(creds) : c.path,
      headers,
      ...(c.body !== undefined && { body: c.body }),
    });

    for (const secret of secrets) expect(res.body).not.toContain(secret);
    if (res.status === 401) {
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      expect(res.headers['www-authenticate']).not.toMatch(/basic/i);
    }
    const hit = hits.get(marker);
    if (c.expect === 'reached') {
      expect({ status: res.status, code: codeOf(res), reached: hit !== undefined }).toEqual({ status: 200, code: undefined, reached: true });
      if (c.user !== undefined) expect(hit!.user).toBe(c.user);
      if (c.seenMethod !== undefined) expect(hit!.method).toBe(c.seenMethod);
      if (method !== 'HEAD') expect(res.json()).toEqual({ reached: true });
    } else {
      const actual = { status: res.status, code: codeOf(res), reached: hit !== undefined };
      // A HEAD answer has no body to read the code from.
      const code = method === 'HEAD' ? actual.code : (c.code ?? actual.code);
      expect(actual).toEqual({ status: c.status ?? actual.status, code, reached: false });
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
  });
});

test('no audit event holds a secret and the guard reported no internal error', () => {
  expect(auditEvents.length).toBeGreaterThan(0);
  const text = JSON.stringify(auditEvents);
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(guardErrors).toEqual([]);
});
