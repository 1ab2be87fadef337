// Audit through real HTTP (SPEC §6) on Express 4 and 5: an event per token call and denial, failing hooks, and a JSON-lines file that loses nothing under 10,000 concurrent requests.
import { Agent } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, createTokenService, JsonLinesSink, MemoryTokenStore, tokenGuard, type AuditEvent, type AuditHook, type TokenGuardOptions, type TokenService } from '../../../../src/index';
import { basic, EXPRESS_FLAVOURS, http, listen, send, viaSupertest, type ExpressFlavour, type RawRequest, type TestServer } from '../../../support/http';

interface ErrorBody {
  error: { status: number; code: string; message: string };
}

/** A token that has the right format and checksum but is not in the service's store. */
async function foreignToken(): Promise<string> {
  const other = createTokenService({ store: new MemoryTokenStore() });
  const { token } = await other.issue({ owner: 'nobody', label: 'foreign' });
  await other.close();
  return token;
}

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

/** Lets queued promise callbacks (a rejected hook's catch) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each(EXPRESS_FLAVOURS)('audit through HTTP ($name)', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  const services: TokenService[] = [];
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `tokenfence-audit-${flavour.name}-`));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(services.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(options: Omit<TokenGuardOptions, 'tokens'> & { tokens?: TokenService } = {}) {
    const tokens = options.tokens ?? createTokenService({ store: new MemoryTokenStore() });
    services.push(tokens);
    const app = flavour.create();
    app.use(tokenGuard({ ...options, tokens }));
    app.use((_req, res) => res.json({ ok: true }));
    const server = await listen(app);
    servers.push(server);
    return { tokens, port: server.port };
  }

  describe('an event for every token call and every denial', () => {
    async function setup() {
      const events: AuditEvent[] = [];
      const { tokens, port } = await start({ audit: (e) => void events.push(e) });
      const alice = await tokens.issue({ owner: 'alice', label: 'all' });
      const restricted = await tokens.issue({ owner: 'bob', label: 'issues', restrictions: '[GET]/rest/api/2/issue/.*\n[GET]/rest/api/2/myself' });
      const revoked = await tokens.issue({ owner: 'carol', label: 'old' });
      await tokens.revoke(revoked.record.id);
      const anyUser = await tokens.issue({ owner: null, label: 'shared' });
      return { events, port, tokens, alice, restricted, revoked, anyUser };
    }

    test('a Bearer call gives one token.used event with the request details and no query string', async () => {
      const { events, port, alice, tokens } = await setup();
      const res = await http(port).get('/rest/api/2/myself?expand=groups&token=whatever').set(...bearer(alice.token)).set('User-Agent', 'audit-test/1.0').set('X-Request-Id', 'req-42.a:b');
      expect(res.status).toBe(200);
      expect(events).toHaveLength(1);
      const e = events[0]!;
      expect(e).toMatchObject({
        type: 'token.used',
        user: 'alice',
        tokenId: alice.record.id,
        via: 'bearer',
        method: 'GET',
        path: '/rest/api/2/myself',
        ip: '127.0.0.1',
        userAgent: 'audit-test/1.0',
        outcome: 'success',
        requestId: 'req-42.a:b',
      });
      expect(e.at).toBeInstanceOf(Date);
      expect(e.reason).toBeUndefined();
      expect(e.status).toBeUndefined();
      // The time of the event is the time the token service recorded the use.
      const record = await tokens.get(alice.record.id);
      expect(e.at.getTime()).toBe(record!.lastAccessed!.getTime());
      expect(Math.abs(e.at.getTime() - Date.now())).toBeLessThan(60_000);
    });

    test('the client address is Express\'s req.ip (a getter on the app\'s request prototype) under trust proxy, else the socket\'s', async () => {
      const events: AuditEvent[] = [];
      const tokens = createTokenService({ store: new MemoryTokenStore() });
      services.push(tokens);
      const alice = await tokens.issue({ owner: 'alice', label: 'all' });
      const addressOf = async (trustProxy: boolean, forwarded = '203.0.113.9'): Promise<{ audited: string | null | undefined; recorded: string | null | undefined }> => {
        const app = flavour.create();
        app.set('trust proxy', trustProxy);
        app.use(tokenGuard({ tokens, audit: (e) => void events.push(e) }));
        app.use((_req, res) => res.json({ ok: true }));
        const server = await listen(app);
        servers.push(server);
        const res = await http(server.port).get('/rest/api/2/myself').set(...bearer(alice.token)).set('X-Forwarded-For', forwarded);
        expect(res.status).toBe(200);
        const record = await tokens.get(alice.record.id);
        return { audited: events.at(-1)?.ip, recorded: record?.lastAccessedIp };
      };
      expect(await addressOf(true)).toEqual({ audited: '203.0.113.9', recorded: '203.0.113.9' });
      expect(await addressOf(false)).toEqual({ audited: '127.0.0.1', recorded: '127.0.0.1' });
      // Under trust proxy, X-Forwarded-For text that is not an address (here a pasted token) is not taken.
      expect(await addressOf(true, alice.token)).toEqual({ audited: '127.0.0.1', recorded: '127.0.0.1' });
      expect(await addressOf(true, '2001:db8::7')).toEqual({ audited: '2001:db8::7', recorded: '2001:db8::7' });
      // Some proxies add the client's port: the address is kept, the port dropped.
      expect(await addressOf(true, '203.0.113.7:51234')).toEqual({ audited: '203.0.113.7', recorded: '203.0.113.7' });
      expect(await addressOf(true, '[2001:db8::1]:443')).toEqual({ audited: '2001:db8::1', recorded: '2001:db8::1' });
      expect(events).toHaveLength(6);
      expect(JSON.stringify(events)).not.toContain(alice.token.slice(16));
    });

    test('the time of a token.used event comes from the token service (its clock, one read a call)', async () => {
      const events: AuditEvent[] = [];
      const fixed = new Date('2031-05-06T07:08:09.010Z');
      const { tokens, port } = await start({ audit: (e) => void events.push(e), tokens: createTokenService({ store: new MemoryTokenStore(), clock: () => new Date(fixed) }) });
      const { token } = await tokens.issue({ owner: 'alice', label: 'clocked' });
      expect((await http(port).get('/rest/x').set(...bearer(token))).status).toBe(200);
      expect(events.map((e) => [e.type, e.at.toISOString()])).toEqual([['token.used', fixed.toISOString()]]);
    });

    test('a restricted call records the line that allowed it', async () => {
      const { events, port, restricted } = await setup();
      const res = await http(port).get('/rest/api/2/myself').set(...bearer(restricted.token));
      expect(res.status).toBe(200);
      expect(events).toEqual([expect.objectContaining({ type: 'token.used', user: 'bob', tokenId: restricted.record.id, line: 2, outcome: 'success' })]);
    });

    test('a Basic call with an any-user token acts as the Basic user', async () => {
      const { events, port, anyUser } = await setup();
      const res = await http(port).post('/rest/api/2/issue').set('Authorization', basic('dave', anyUser.token));
      expect(res.status).toBe(200);
      expect(events).toEqual([expect.objectContaining({ type: 'token.used', user: 'dave', tokenId: anyUser.record.id, via: 'basic', method: 'POST', path: '/rest/api/2/issue' })]);
    });

    test('every denial gives one token.denied event whose reason and status are the response\'s', async () => {
      const { events, port, alice, restricted, revoked, anyUser } = await setup();
      const unknown = await foreignToken();
      const flipped = alice.token.slice(0, -1) + (alice.token.endsWith('A') ? 'B' : 'A');
      // The cases go through supertest, but those with `raw` (why) through `send`: supertest's .set() keeps one line per header name.
      const cases: Array<{ method?: string; path: string; headers: Array<[string, string]>; status: number; code: string; user?: string | null; tokenId?: string; via?: string; raw?: string }> = [
        { path: '/rest/api/2/myself', headers: [bearer(unknown)], status: 401, code: 'unknown', tokenId: unknown.slice(4, 16), via: 'bearer' },
        { path: '/rest/api/2/myself', headers: [bearer(revoked.token)], status: 401, code: 'revoked', tokenId: revoked.record.id, via: 'bearer' },
        { path: '/rest/api/2/myself', headers: [bearer(flipped)], status: 401, code: 'checksum', via: 'bearer' },
        { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${alice.token} ${alice.token}`]], status: 401, code: 'malformed', user: null },
        { path: '/rest/api/2/myself', headers: [bearer(alice.token), bearer(alice.token)], status: 401, code: 'malformed', user: null, raw: 'two Authorization header lines' },
        { path: '/rest/api/2/myself', headers: [bearer(anyUser.token)], status: 401, code: 'user_required', tokenId: anyUser.record.id, via: 'bearer' },
        { path: '/rest/api/2/myself', headers: [['Authorization', basic('mallory', alice.token)]], status: 401, code: 'user_mismatch', user: 'mallory', tokenId: alice.record.id, via: 'basic' },
        { path: '/admin/settings?x=1', headers: [bearer(alice.token)], status: 403, code: 'outside_token_scope', user: 'alice', tokenId: alice.record.id, via: 'bearer' },
        { method: 'DELETE', path: '/rest/api/2/issue/JRA-1', headers: [bearer(restricted.token)], status: 403, code: 'restricted', user: 'bob', tokenId: restricted.record.id, via: 'bearer' },
        { path: '/rest/api/2/issue/JRA-1', headers: [bearer(restricted.token), ['X-HTTP-Method-Override', 'DELETE']], status: 403, code: 'restricted', user: 'bob', tokenId: restricted.record.id },
        { path: '/rest/api/2/%2e%2e/secret', headers: [bearer(alice.token)], status: 400, code: 'ambiguous_request', user: 'alice', tokenId: alice.record.id },
      ];
      for (const [i, c] of cases.entries()) {
        events.length = 0;
        const request: RawRequest = { method: c.method ?? 'GET', path: c.path, headers: [...c.headers, ['X-Request-Id', `deny-${i}`], ['User-Agent', 'deny-agent']] };
        const res = c.raw === undefined ? await viaSupertest(port, request) : await send(port, request);
        const body = JSON.parse(res.text) as ErrorBody;
        expect({ i, status: res.status, code: body.error.code }).toEqual({ i, status: c.status, code: c.code });
        expect(events).toHaveLength(1);
        const e = events[0]!;
        expect(e).toMatchObject({
          type: 'token.denied',
          outcome: 'failure',
          reason: body.error.code,
          status: res.status,
          method: c.method ?? 'GET',
          path: c.path.split('?')[0],
          ip: '127.0.0.1',
          userAgent: 'deny-agent',
          requestId: `deny-${i}`,
        });
        if (c.user !== undefined) expect(e.user).toBe(c.user);
        if (c.tokenId !== undefined) expect(e.tokenId).toBe(c.tokenId);
        if (c.via !== undefined) expect(e.via).toBe(c.via);
      }
    });

    test('credentials_required (required: true) is audited too', async () => {
      const events: AuditEvent[] = [];
      const { port } = await start({ audit: (e) => void events.push(e), required: true });
      const res = await http(port).get('/rest/api/2/myself');
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error.code).toBe('credentials_required');
      expect(events).toEqual([expect.objectContaining({ type: 'token.denied', reason: 'credentials_required', status: 401, user: null, path: '/rest/api/2/myself' })]);
    });

    test.each([
      ['with spaces', 'a b c'],
      ['too long', 'x'.repeat(129)],
      ['with a quote', 'id"1'],
      ['with a semicolon', 'id;drop'],
    ])('a malformed X-Request-Id (%s) is dropped', async (_name, id) => {
      const { events, port, alice } = await setup();
      const res = await http(port).get('/rest/api/2/myself').set(...bearer(alice.token)).set('X-Request-Id', id);
      expect(res.status).toBe(200);
      expect(events).toHaveLength(1);
      expect(events[0]!.requestId).toBeUndefined();
      expect(JSON.stringify(events[0])).not.toContain(id);
    });

    test('a request without a tokenfence credential produces no event', async () => {
      const { events, port } = await setup();
      expect((await http(port).get('/rest/api/2/myself')).status).toBe(200);
      expect((await http(port).get('/rest/api/2/myself').set('Authorization', 'Bearer some-other-jwt')).status).toBe(200);
      expect((await http(port).get('/rest/api/2/myself').set('Authorization', basic('alice', 'a password'))).status).toBe(200);
      expect((await http(port).get('/elsewhere')).status).toBe(200);
      expect(events).toEqual([]);
    });
  });

  describe('a failing audit hook never fails the request', () => {
    test.each([
      [
        'throws',
        (): void => {
          throw new Error('audit down');
        },
      ],
      ['rejects', (): Promise<void> => Promise.reject(new Error('audit down'))],
    ])('a hook that %s: the call still succeeds and onError hears of it', async (_name, hook) => {
      const errors: Array<[unknown, string]> = [];
      const { tokens, port } = await start({ audit: hook as AuditHook, onError: (error, context) => errors.push([error, context]) });
      const { token } = await tokens.issue({ owner: 'alice', label: 'x' });
      const ok = await http(port).get('/rest/api/2/myself').set(...bearer(token));
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ ok: true });
      const denied = await http(port).get('/rest/api/2/myself').set(...bearer(token.slice(0, -1) + (token.endsWith('x') ? 'y' : 'x')));
      expect(denied.status).toBe(401);
      expect((denied.body as ErrorBody).error.code).toBe('checksum');
      await waitFor(() => errors.length >= 2);
      await settle();
      expect(errors).toHaveLength(2);
      for (const [error, context] of errors) {
        expect((error as Error).message).toBe('audit down');
        expect(context).toMatch(/audit/);
      }
    });

    test('a failing sink inside createAuditLog is reported to the log\'s onError and the file sink still gets the event', async () => {
      const file = join(dir, 'audit.jsonl');
      const sinkErrors: unknown[] = [];
      const audit = createAuditLog(
        [
          () => {
            throw new Error('sink down');
          },
          new JsonLinesSink(file),
        ],
        { onError: (error) => sinkErrors.push(error) },
      );
      const guardErrors: unknown[] = [];
      const { tokens, port } = await start({ audit, onError: (error) => guardErrors.push(error) });
      const { token } = await tokens.issue({ owner: 'alice', label: 'x' });
      expect((await http(port).get('/rest/api/2/myself').set(...bearer(token))).status).toBe(200);
      await audit.close();
      expect(sinkErrors).toHaveLength(1);
      expect(guardErrors).toEqual([]);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines.map((l) => JSON.parse(l).type)).toEqual(['token.used']);
    });
  });

  test('what reaches the JSON-lines file is the event as emitted: a sink that edits it and a handler that edits the principal change nothing', async () => {
    const file = join(dir, 'audit.jsonl');
    const sinkErrors: unknown[] = [];
    const audit = createAuditLog(
      [
        (e) => {
          // A "redacting" sink that edits in place, as some loggers' redaction does.
          (e as { ip?: string | null }).ip = 'scrubbed';
        },
        new JsonLinesSink(file),
      ],
      { onError: (error) => sinkErrors.push(error) },
    );
    const tokens = createTokenService({ store: new MemoryTokenStore() });
    services.push(tokens);
    const app = flavour.create();
    app.use(tokenGuard({ tokens, audit }));
    let recorded: string | undefined;
    app.use((req, res) => {
      const used = req.tokenfence!.token.lastAccessed!;
      recorded = used.toISOString();
      used.setTime(0);
      res.json({ ok: true });
    });
    const server = await listen(app);
    servers.push(server);
    const { token } = await tokens.issue({ owner: 'alice', label: 'x' });
    expect((await http(server.port).get('/rest/api/2/myself').set(...bearer(token))).status).toBe(200);
    await audit.close();
    expect(sinkErrors).toHaveLength(1);
    expect(sinkErrors[0]).toBeInstanceOf(TypeError);
    const [line] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({ type: 'token.used', user: 'alice', ip: '127.0.0.1', at: recorded });
  });

  test('lifecycle events of the service land in the same JSON-lines file as the calls', async () => {
    const file = join(dir, 'audit.jsonl');
    const audit = createAuditLog([new JsonLinesSink(file, { flushMs: 50 })]);
    const tokens = createTokenService({ store: new MemoryTokenStore(), audit });
    const { port } = await start({ tokens, audit });
    const alice = await tokens.issue({ owner: 'alice', label: 'ci' }, { actor: 'alice' });
    expect((await http(port).get('/rest/api/2/myself').set(...bearer(alice.token)).set('X-Request-Id', 'call-1')).status).toBe(200);
    await tokens.update(alice.record.id, { label: 'ci (renamed)' }, { actor: 'admin' });
    const rotated = await tokens.rotate(alice.record.id, { actor: 'alice' });
    const revoked = await tokens.revoke(rotated.record.id, { actor: 'admin' });
    expect((await http(port).get('/rest/api/2/myself').set(...bearer(rotated.token)).set('X-Request-Id', 'call-2')).status).toBe(401);
    await audit.close();

    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.type, r.tokenId, r.user])).toEqual([
      ['token.created', alice.record.id, 'alice'],
      ['token.used', alice.record.id, 'alice'],
      ['token.updated', alice.record.id, 'admin'],
      ['token.created', rotated.record.id, 'alice'],
      ['token.rotated', alice.record.id, 'alice'],
      ['token.revoked', revoked.id, 'admin'],
      ['token.denied', rotated.record.id, null],
    ]);
    expect(records[1]).toMatchObject({ requestId: 'call-1', message: `alice has been authenticated via API Token (${alice.record.id})`, path: '/rest/api/2/myself' });
    expect(records[6]).toMatchObject({ requestId: 'call-2', reason: 'revoked', status: 401, outcome: 'failure' });
    for (const r of records) expect(typeof r.at === 'string' && !Number.isNaN(Date.parse(r.at))).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(alice.token);
    expect(text).not.toContain(rotated.token);
  });

  test('the JSON-lines sink loses no event across close() under 10,000 concurrent requests', async () => {
    const N = 10_000;
    const file = join(dir, 'audit.jsonl');
    const sinkErrors: unknown[] = [];
    const audit = createAuditLog([new JsonLinesSink(file, { flushMs: 50 })], { onError: (error) => sinkErrors.push(error) });
    const guardErrors: unknown[] = [];
    const { tokens, port } = await start({ audit, onError: (error) => guardErrors.push(error) });
    const alice = await tokens.issue({ owner: 'alice', label: 'load' });
    const bob = await tokens.issue({ owner: 'bob', label: 'issues only', restrictions: '[GET]/rest/api/2/issue/.*' });
    const old = await tokens.issue({ owner: 'carol', label: 'revoked' });
    await tokens.revoke(old.record.id);

    // Four kinds of request: alice allowed, bob allowed, a revoked token (401), bob outside his rules (403).
    const kinds = [
      { path: '/rest/api/2/myself', token: alice.token, status: 200, type: 'token.used' },
      { path: '/rest/api/2/issue/JRA-1', token: bob.token, status: 200, type: 'token.used' },
      { path: '/rest/api/2/myself', token: old.token, status: 401, type: 'token.denied' },
      { path: '/rest/api/2/myself', token: bob.token, status: 403, type: 'token.denied' },
    ] as const;
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const get = async (path: string, headers: Record<string, string>): Promise<number> => (await http(port).get(path).set(headers).agent(agent)).status;

    const started = Date.now();
    let statuses: number[];
    try {
      statuses = await Promise.all(
        Array.from({ length: N }, (_, i) => {
          const kind = kinds[i % kinds.length]!;
          return get(`${kind.path}?n=${i}`, { Authorization: `Bearer ${kind.token}`, 'X-Request-Id': `${flavour.name}-${i}` });
        }),
      );
      await audit.close();
    } finally {
      agent.destroy();
    }
    const elapsed = Date.now() - started;

    statuses.forEach((status, i) => {
      if (status !== kinds[i % kinds.length]!.status) throw new Error(`request ${i}: status ${status}, expected ${kinds[i % kinds.length]!.status}`);
    });
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(N);
    const records = lines.map((l) => JSON.parse(l) as { type: string; requestId: string; outcome: string });
    const count = (type: string) => records.filter((r) => r.type === type).length;
    expect(count('token.used')).toBe(N / 2);
    expect(count('token.denied')).toBe(N / 2);
    const seen = new Map<string, number>();
    for (const r of records) seen.set(r.requestId, (seen.get(r.requestId) ?? 0) + 1);
    expect(seen.size).toBe(N);
    for (let i = 0; i < N; i++) {
      const r = seen.get(`${flavour.name}-${i}`);
      if (r !== 1) throw new Error(`request id ${flavour.name}-${i} appears ${r ?? 0} times`);
    }
    expect(sinkErrors).toEqual([]);
    expect(guardErrors).toEqual([]);
    // Usage counts are exact too once the service is closed (SPEC §4).
    await tokens.close();
    services.splice(services.indexOf(tokens), 1);
    // Not a timing assertion: the duration is only reported.
    process.stdout.write(`[${flavour.name}] 10,000 requests and audit.close(): ${elapsed} ms\n`);
  }, 60_000);
});
