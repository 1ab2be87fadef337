// Secret scan (SPEC §4–§6) on Express 4 and 5: after many token calls and refusals, no token, secret, password or Basic credential appears in anything tokenfence writes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import pino from 'pino';
import {
  createAuditLog,
  createTokenService,
  JsonLinesSink,
  MemoryTokenStore,
  pinoSink,
  tokenGuard,
  type AuditLog,
  type StoredToken,
  type TokenChanges,
  type TokenService,
  type TokenStore,
  type UsageUpdate,
} from '../../../../src/index';
import { basic, EXPRESS_FLAVOURS, listen, send, viaSupertest, type ExpressFlavour, type RawRequest, type RawResponse, type TestServer } from '../../../support/http';

const PREFIX = 'tfk_';
/** The secret part of a token: the 24 characters after the 12-character id. */
const secretOf = (token: string): string => token.slice(PREFIX.length + 12, PREFIX.length + 12 + 24);
const flip = (token: string): string => token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

/** A store that works until `failing` is set; then `get` throws, as a database that is down. */
class FailingStore implements TokenStore {
  failing = false;
  readonly inner = new MemoryTokenStore();
  insert(token: StoredToken) {
    return this.inner.insert(token);
  }
  get(id: string) {
    if (this.failing) throw new Error('database is locked');
    return this.inner.get(id);
  }
  listByOwner(owner: string | null) {
    return this.inner.listByOwner(owner);
  }
  listAll() {
    return this.inner.listAll();
  }
  update(id: string, changes: TokenChanges) {
    return this.inner.update(id, changes);
  }
  recordUsage(updates: readonly UsageUpdate[]) {
    return this.inner.recordUsage(updates);
  }
  delete(id: string) {
    return this.inner.delete(id);
  }
  purge(before: Date) {
    return this.inner.purge(before);
  }
}

/** Everything an error handed to an onError hook could be rendered as. */
const renderError = (error: unknown, context: string): string =>
  [context, String(error), error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : '', inspect(error, { depth: 5 }), (() => {
    try {
      return JSON.stringify(error);
    } catch {
      return '';
    }
  })()].join('\n');

interface Call {
  name: string;
  /** Sent with supertest, or with `send` when `raw` says why supertest cannot send it. */
  request: RawRequest;
  raw?: string;
  status: number;
  code?: string;
  broken?: boolean;
}

describe.each(EXPRESS_FLAVOURS)('no secret reaches any output ($name)', (flavour: ExpressFlavour) => {
  const haystacks = new Map<string, string[]>();
  const needles = new Map<string, string>();
  const responses: Array<{ call: Call; res: Pick<RawResponse, 'status' | 'headers' | 'text'> }> = [];
  const captured = { console: [] as string[], pino: [] as string[], onError: [] as string[] };
  const servers: TestServer[] = [];
  const services: TokenService[] = [];
  let dir: string;
  let auditFile: string;
  let audit: AuditLog;
  let spies: jest.SpyInstance[] = [];
  let tokenfenceCalls = 0;

  const addNeedle = (name: string, value: string): void => {
    expect(value.length).toBeGreaterThanOrEqual(8);
    needles.set(name, value);
  };
  const addToken = (name: string, token: string): void => {
    addNeedle(`${name} token`, token);
    addNeedle(`${name} secret`, secretOf(token));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tokenfence-scan-${flavour.name}-`));
    auditFile = join(dir, 'audit.jsonl');
    for (const level of ['error', 'log', 'warn', 'info', 'debug'] as const) {
      spies.push(jest.spyOn(console, level).mockImplementation((...args: unknown[]) => void captured.console.push(`${level}: ${format(...args)}`)));
    }
    const onError = (who: string) => (error: unknown, context: string) => void captured.onError.push(`${who}: ${renderError(error, context)}`);
    const logger = pino({ level: 'trace' }, { write: (chunk: string) => void captured.pino.push(chunk) });
    audit = createAuditLog([new JsonLinesSink(auditFile, { flushMs: 20 }), pinoSink(logger)], { onError: onError('audit log') });

    let offsetMs = 0;
    const tokens = createTokenService({ store: new MemoryTokenStore(), audit, onError: onError('token service'), clock: () => new Date(Date.now() + offsetMs) });
    services.push(tokens);

    // ---- tokens ----
    const alice = await tokens.issue({ owner: 'alice', label: 'everything' });
    const bob = await tokens.issue({ owner: 'bob', label: 'read issues', restrictions: '[GET]/rest/api/2/issue/.*' });
    const search = await tokens.issue({ owner: 'bob', label: 'search one project', restrictions: '[GET]/rest/api/2/search[QueryParam::jql==project = JRA]' });
    const filter = await tokens.issue({ owner: 'erin', label: 'filters', restrictions: '[POST]/rest/api/2/filter[JsonData::editable==false]' });
    const anyUser = await tokens.issue({ owner: null, label: 'shared' });
    const revoked = await tokens.issue({ owner: 'carol', label: 'revoked' });
    await tokens.revoke(revoked.record.id, { actor: 'admin' });
    const expired = await tokens.issue({ owner: 'carol', label: 'expires soon', expiresAt: new Date(Date.now() + 3_600_000) });
    const burst = await tokens.issue({ owner: 'frank', label: 'rate limited' });
    const before = await tokens.issue({ owner: 'gina', label: 'to rotate' });
    const rotated = await tokens.rotate(before.record.id, { actor: 'gina', graceSeconds: 86_400 });
    const updated = await tokens.issue({ owner: 'alice', label: 'to edit' });
    await tokens.update(updated.record.id, { label: 'edited', restrictions: '[GET]/rest/api/2/myself' }, { actor: 'alice' });
    offsetMs = 2 * 3_600_000; // `expired` is now past its expiry
    const other = createTokenService({ store: new MemoryTokenStore() });
    const unknown = (await other.issue({ owner: 'alice', label: 'elsewhere' })).token;
    await other.close();

    // A second service whose store goes down after issuing.
    const failingStore = new FailingStore();
    const broken = createTokenService({ store: failingStore, audit, onError: onError('broken token service') });
    services.push(broken);
    const victim = await broken.issue({ owner: 'hank', label: 'store goes down' });
    const victimAnyUser = await broken.issue({ owner: null, label: 'store goes down (any user)' });
    failingStore.failing = true;

    for (const [name, t] of Object.entries({ alice, bob, search, filter, anyUser, revoked, expired, burst, before, rotated, updated, victim, victimAnyUser })) addToken(name, t.token);
    addToken('unknown', unknown);
    const password = 'hunter2-Correct-Horse-Battery';
    const plainBasicPassword = 'plain-basic-password-9f3a';
    addNeedle('JSON password', password);
    addNeedle('plain Basic password', plainBasicPassword);

    // ---- apps ----
    const app = flavour.create();
    app.use(tokenGuard({ tokens, audit, onError: onError('guard'), rateLimit: { points: 20, duration: 600 } }));
    app.use((_req, res) => res.json({ ok: true }));
    const main = await listen(app);
    servers.push(main);
    // The broken app keeps the guard's default onError, so what it prints to the console is scanned too.
    const brokenApp = flavour.create();
    brokenApp.use(tokenGuard({ tokens: broken, audit }));
    brokenApp.use((_req, res) => res.json({ ok: true }));
    const down = await listen(brokenApp);
    servers.push(down);

    const nonCanonicalBasic = `Basic ${Buffer.from(`alice:${alice.token}`).toString('base64').replace(/=+$/, '')}`;
    const json = (body: unknown): Pick<RawRequest, 'body'> & { headers: Array<[string, string]> } => ({ body: typeof body === 'string' ? body : JSON.stringify(body), headers: [['Content-Type', 'application/json']] });
    const calls: Call[] = [
      // valid calls
      { name: 'bearer', request: { path: '/rest/api/2/myself', headers: [bearer(alice.token)] }, status: 200 },
      { name: 'bearer, lower-case scheme', request: { path: '/rest/api/2/myself', headers: [['Authorization', `bearer ${alice.token}`]] }, status: 200 },
      { name: 'basic', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('alice', alice.token)]] }, status: 200 },
      { name: 'basic, case-folded user', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('ALICE', alice.token)]] }, status: 200 },
      { name: 'any-user token via basic', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('carol', anyUser.token)]] }, status: 200 },
      { name: 'restricted, allowed', request: { path: '/rest/api/2/issue/JRA-1', headers: [bearer(bob.token)] }, status: 200 },
      { name: 'query constraint, allowed', request: { path: '/rest/api/2/search?jql=project%20%3D%20JRA', headers: [bearer(search.token)] }, status: 200 },
      { name: 'rotated token, old one in grace', request: { path: '/rest/api/2/myself', headers: [bearer(before.token)] }, status: 200 },
      { name: 'rotated token, new one', request: { path: '/rest/api/2/myself', headers: [bearer(rotated.token)] }, status: 200 },
      { name: 'edited token', request: { path: '/rest/api/2/myself', headers: [bearer(updated.token)] }, status: 200 },
      // tokens the service refuses
      { name: 'revoked', request: { path: '/rest/api/2/myself', headers: [bearer(revoked.token)] }, status: 401, code: 'revoked' },
      { name: 'revoked via basic', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('carol', revoked.token)]] }, status: 401, code: 'revoked' },
      { name: 'expired', request: { path: '/rest/api/2/myself', headers: [bearer(expired.token)] }, status: 401, code: 'expired' },
      { name: 'unknown', request: { path: '/rest/api/2/myself', headers: [bearer(unknown)] }, status: 401, code: 'unknown' },
      { name: 'checksum flipped', request: { path: '/rest/api/2/myself', headers: [bearer(flip(alice.token))] }, status: 401, code: 'checksum' },
      { name: 'checksum flipped via basic', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('alice', flip(alice.token))]] }, status: 401, code: 'checksum' },
      { name: 'any-user token as bearer', request: { path: '/rest/api/2/myself', headers: [bearer(anyUser.token)] }, status: 401, code: 'user_required' },
      { name: 'someone else\'s token', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('mallory', alice.token)]] }, status: 401, code: 'user_mismatch' },
      { name: 'edited token outside its new rules', request: { path: '/rest/api/2/issue/JRA-1', headers: [bearer(updated.token)] }, status: 403, code: 'restricted' },
      // malformed headers with the token inside
      { name: 'bearer with trailing text', request: { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${alice.token} extra`]] }, status: 401, code: 'malformed' },
      { name: 'two credentials in one header', request: { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${alice.token}, Basic ${Buffer.from(`alice:${alice.token}`).toString('base64')}`]] }, status: 401, code: 'malformed' },
      { name: 'two Authorization headers', raw: 'two Authorization header lines', request: { path: '/rest/api/2/myself', headers: [bearer(alice.token), ['Authorization', basic('alice', alice.token)]] }, status: 401, code: 'malformed' },
      { name: 'a token next to a foreign header', raw: 'two Authorization header lines', request: { path: '/rest/api/2/myself', headers: [['Authorization', 'Bearer some-jwt'], bearer(alice.token)] }, status: 401, code: 'malformed' },
      { name: 'unknown scheme', request: { path: '/rest/api/2/myself', headers: [['Authorization', `Token ${alice.token}`]] }, status: 401, code: 'malformed' },
      { name: 'no scheme', request: { path: '/rest/api/2/myself', headers: [['Authorization', alice.token]] }, status: 401, code: 'malformed' },
      { name: 'basic, non-canonical base64', request: { path: '/rest/api/2/myself', headers: [['Authorization', nonCanonicalBasic]] }, status: 401, code: 'malformed' },
      { name: 'basic, token twice', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('alice', `${alice.token}:${alice.token}`)]] }, status: 401, code: 'malformed' },
      { name: 'basic, token as user name', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic(alice.token, password)]] }, status: 401, code: 'malformed' },
      { name: 'basic, no user', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('', alice.token)]] }, status: 401, code: 'malformed' },
      { name: 'bearer, token with junk', request: { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${alice.token}${secretOf(bob.token)}`]] }, status: 401, code: 'malformed' },
      { name: 'header over 1 KiB', request: { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${alice.token}${'A'.repeat(1100)}`]] }, status: 401, code: 'malformed' },
      // restricted calls and scope
      { name: 'restricted method', request: { method: 'DELETE', path: '/rest/api/2/issue/JRA-1', headers: [bearer(bob.token)] }, status: 403, code: 'restricted' },
      { name: 'restricted path with secrets in the query', request: { path: `/rest/api/2/myself?token=${alice.token}&password=${password}&s=${secretOf(bob.token)}`, headers: [bearer(bob.token)] }, status: 403, code: 'restricted' },
      { name: 'method override', request: { path: `/rest/api/2/issue/JRA-1?_method=DELETE&token=${alice.token}`, headers: [bearer(bob.token)] }, status: 403, code: 'restricted' },
      { name: 'query constraint, the token in the checked parameter', request: { path: `/rest/api/2/search?jql=${alice.token}`, headers: [bearer(search.token)] }, status: 403, code: 'restricted' },
      { name: 'query constraint, a secret in the checked parameter', request: { path: `/rest/api/2/search?jql=${secretOf(alice.token)}&password=${password}`, headers: [bearer(search.token)] }, status: 403, code: 'restricted' },
      { name: 'outside scope with the token in the query', request: { path: `/admin?token=${alice.token}`, headers: [bearer(alice.token)] }, status: 403, code: 'outside_token_scope' },
      { name: 'ambiguous path with the token in the query', request: { path: `/rest/api/2/%2e%2e/admin?token=${alice.token}`, headers: [bearer(alice.token)] }, status: 400, code: 'ambiguous_request' },
      // queries carrying the token
      { name: 'token in the query of a valid call', request: { path: `/rest/api/2/myself?token=${alice.token}&access_token=${secretOf(alice.token)}`, headers: [bearer(alice.token)] }, status: 200 },
      { name: 'token in the query only (not tokenfence\'s business)', request: { path: `/rest/api/2/myself?token=${alice.token}` }, status: 200 },
      { name: 'a foreign Basic password', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('dave', plainBasicPassword)]] }, status: 200 },
      // bodies with secrets
      { name: 'JSON body, allowed', request: { method: 'POST', path: '/rest/api/2/filter', ...json({ editable: false, password, apiToken: alice.token }) , headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 200 },
      { name: 'JSON body, refused on the checked value', request: { method: 'POST', path: '/rest/api/2/filter', body: JSON.stringify({ editable: alice.token, password }), headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 403, code: 'restricted' },
      { name: 'JSON body, the secret as the checked value', request: { method: 'POST', path: '/rest/api/2/filter', body: JSON.stringify({ editable: secretOf(alice.token), password }), headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 403, code: 'restricted' },
      { name: 'JSON body, password field and no checked value', request: { method: 'POST', path: '/rest/api/2/filter', body: JSON.stringify({ user: { password, token: alice.token } }), headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 403, code: 'restricted' },
      { name: 'invalid JSON body with secrets', request: { method: 'POST', path: '/rest/api/2/filter', body: `{"password": "${password}", "token": "${alice.token}"`, headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 400, code: 'invalid_json' },
      { name: 'prototype poisoning with secrets', request: { method: 'POST', path: '/rest/api/2/filter', body: `{"__proto__": {"password": "${password}", "token": "${alice.token}"}}`, headers: [bearer(filter.token), ['Content-Type', 'application/json']] }, status: 400, code: 'forbidden_json_key' },
      { name: 'JSON body with the token, via basic', request: { method: 'POST', path: '/rest/api/2/filter', body: JSON.stringify({ editable: false, password }), headers: [['Authorization', basic('erin', filter.token)], ['Content-Type', 'application/json']] }, status: 200 },
    ];
    // Rate limit: 20 calls per token; the 21st and later are 429.
    for (let i = 1; i <= 22; i++) calls.push({ name: `burst ${i}`, request: { path: `/rest/api/2/myself?token=${burst.token}`, headers: [bearer(burst.token)] }, status: i <= 20 ? 200 : 429, ...(i > 20 && { code: 'rate_limited' }) });
    // The store goes down: 503, written by the guard.
    calls.push(
      { name: 'store down, bearer', request: { path: '/rest/api/2/myself', headers: [bearer(victim.token)] }, status: 503, code: 'unavailable', broken: true },
      { name: 'store down, basic', request: { path: '/rest/api/2/myself', headers: [['Authorization', basic('hank', victim.token)]] }, status: 503, code: 'unavailable', broken: true },
      { name: 'store down, any-user basic', request: { path: `/rest/api/2/myself?token=${victimAnyUser.token}`, headers: [['Authorization', basic('ivan', victimAnyUser.token)]] }, status: 503, code: 'unavailable', broken: true },
      { name: 'store down, JSON body', request: { method: 'POST', path: '/rest/api/2/filter', body: JSON.stringify({ password, token: victim.token }), headers: [bearer(victim.token), ['Content-Type', 'application/json']] }, status: 503, code: 'unavailable', broken: true },
    );

    for (const call of calls) {
      const headers = call.request.headers ?? [];
      for (const [name, value] of headers) {
        if (name.toLowerCase() !== 'authorization') continue;
        // Every Basic credential sent, as base64 and decoded.
        const m = /^basic +(\S+)/i.exec(value);
        if (m && m[1]!.length >= 8) addNeedle(`Basic credential of "${call.name}"`, m[1]!);
      }
      const port = call.broken ? down.port : main.port;
      // supertest's .set() keeps one line per header name: a repeated header needs `send`.
      const res = call.raw === undefined ? await viaSupertest(port, call.request) : await send(port, call.request);
      // The body is scanned as text: one superagent did not buffer as text (a binary type) must not slip past.
      if (typeof res.text !== 'string') throw new Error(`${call.name}: no text body to scan (Content-Type ${String(res.headers['content-type'])})`);
      responses.push({ call, res });
      if (headers.some(([n, v]) => n.toLowerCase() === 'authorization' && (v.includes(PREFIX) || /^basic/i.test(v) && Buffer.from(v.slice(6), 'base64').toString('latin1').includes(PREFIX)))) tokenfenceCalls++;
    }

    // Lifecycle changes after the calls, then a clean shutdown.
    await tokens.revokeAll('bob', { actor: 'admin' });
    await tokens.purgeExpired();
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(services.map((s) => s.close()));
    await audit.close();

    haystacks.set('audit file', [readFileSync(auditFile, 'utf8')]);
    haystacks.set('pino output', captured.pino);
    haystacks.set('onError reports', captured.onError);
    haystacks.set('console output', captured.console);
    haystacks.set(
      'responses',
      responses.map(({ call, res }) => `${call.name}\n${res.status}\n${JSON.stringify(res.headers)}\n${res.text}`),
    );
  }, 30_000);

  afterAll(() => {
    for (const spy of spies) spy.mockRestore();
    spies = [];
    rmSync(dir, { recursive: true, force: true });
  });

  test('every call got the expected status and code', () => {
    const got = responses.map(({ call, res }) => ({ name: call.name, status: res.status, code: res.status === 200 ? undefined : (JSON.parse(res.text) as { error: { code: string } }).error.code }));
    const expected = responses.map(({ call }) => ({ name: call.name, status: call.status, code: call.code }));
    expect(got).toEqual(expected);
  });

  test('the outputs were really captured', () => {
    const auditLines = haystacks.get('audit file')![0]!.split('\n').filter((l) => l !== '');
    // One event per tokenfence call plus the lifecycle events.
    expect(auditLines.length).toBeGreaterThan(tokenfenceCalls);
    const pinoLines = captured.pino.join('').split('\n').filter((l) => l !== '');
    expect(pinoLines).toHaveLength(auditLines.length);
    // The failing store was reported by the broken app's guard, through its default console.error.
    expect(captured.console.filter((l) => l.startsWith('error:') && l.includes('database is locked'))).toHaveLength(4);
    expect(needles.size).toBeGreaterThan(30);
  });

  test('the scan can find what it looks for: every needle was sent, and the audit names the token ids', () => {
    const sent = responses.map(({ call }) => `${call.request.path}\n${JSON.stringify(call.request.headers ?? [])}\n${String(call.request.body ?? '')}`).join('\n');
    // Basic credentials decoded, so that the passwords inside count as sent.
    const basicSent = responses.flatMap(({ call }) => (call.request.headers ?? []).map(([, v]) => (/^basic /i.test(v) ? Buffer.from(v.slice(6), 'base64').toString('utf8') : ''))).join('\n');
    for (const [name, needle] of needles) if (!sent.includes(needle) && !basicSent.includes(needle)) throw new Error(`${name} was never sent`);
    const audit = haystacks.get('audit file')![0]!;
    for (const [name, needle] of needles) {
      if (!name.endsWith(' token') || name.startsWith('unknown')) continue;
      expect(audit).toContain(needle.slice(PREFIX.length, PREFIX.length + 12));
    }
  });

  test('a 503 from a failing store says only the generic message', () => {
    const down = responses.filter(({ call }) => call.broken);
    expect(down).toHaveLength(4);
    for (const { res } of down) {
      expect(JSON.parse(res.text)).toEqual({ error: { status: 503, code: 'unavailable', message: 'The token service is unavailable; retry later.' } });
      expect(res.text).not.toMatch(/database|locked|stack|at .*\.ts/);
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  test('no response contains a stack trace', () => {
    for (const { call, res } of responses) {
      if (/\bat [\w.<>]+ \(|\.ts:\d+|node_modules/.test(res.text)) throw new Error(`${call.name}: the response holds a stack trace: ${res.text}`);
    }
  });

  test.each(['audit file', 'pino output', 'onError reports', 'console output', 'responses'])('no token, secret, password or Basic credential in the %s', (where) => {
    const texts = haystacks.get(where)!;
    const leaks: string[] = [];
    for (const text of texts) {
      for (const [name, needle] of needles) {
        if (text.includes(needle)) leaks.push(`${name} in: ${text.slice(Math.max(0, text.indexOf(needle) - 120), text.indexOf(needle) + needle.length + 40)}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
