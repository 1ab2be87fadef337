// tokenGuard through real HTTP on Express 4 and 5: principal, options, body hand-off, routing settings,
// rate limits and failing closed.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { ErrorRequestHandler, Express, Request, Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import request from 'supertest';
import { createTokenService, GuardError, MemoryTokenStore, tokenGuard, type AuditEvent, type TokenGuardOptions, type TokenService } from '../../../../src/index';
import { basic, EXPRESS_FLAVOURS, http, listen, sendInParts, type ExpressFlavour, type TestServer } from '../../../support/http';

interface Seen {
  method: string;
  principal: unknown;
  user: unknown;
  body: unknown;
}

describe.each(EXPRESS_FLAVOURS)('tokenGuard on $name', (flavour: ExpressFlavour) => {
  let tokens: TokenService;
  let alice: string;
  let anyUser: string;
  let open: string;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    tokens = createTokenService({ store: new MemoryTokenStore() });
    alice = (
      await tokens.issue({
        owner: 'alice',
        label: 'rules',
        restrictions: ['[GET]/rest/api/2/issue/[A-Z]+-\\d+', '[POST]/rest/api/2/filter[JsonData::editable==false]', '[PUT]/rest/api/2/issue/[A-Z]+-\\d+'].join('\n'),
      })
    ).token;
    anyUser = (await tokens.issue({ owner: null, label: 'any user' })).token;
    open = (await tokens.issue({ owner: 'bob', label: 'no rules' })).token;
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await tokens.close();
  });

  /** An app with the guard (and whatever `setup` adds) in front of a handler that records what it saw. */
  async function start(options: Partial<TokenGuardOptions> = {}, setup: { before?: (app: Express) => void; after?: (app: Express) => void; mount?: string } = {}) {
    const app = flavour.create();
    const seen: Seen[] = [];
    setup.before?.(app);
    if (setup.mount) app.use(setup.mount, tokenGuard({ tokens, ...options }));
    else app.use(tokenGuard({ tokens, ...options }));
    setup.after?.(app);
    app.use((req: Request, res) => {
      seen.push({ method: req.method, principal: req.tokenfence, user: (req as { user?: unknown }).user, body: req.body });
      res.json({ reached: true });
    });
    const onError: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
      res.status(err.status ?? 500).json({ hostError: err.code ?? 'error' });
    };
    app.use(onError);
    const server = await listen(app);
    servers.push(server);
    return { port: server.port, seen };
  }
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
  const errorOf = (r: { text: string }) => (JSON.parse(r.text) as { error: { code: string; status: number; explanation?: string } }).error;

  it('puts the principal on req.tokenfence and leaves req.user alone', async () => {
    const { port, seen } = await start();
    const r = await http(port).get('/rest/api/2/issue/KAN-1').set(bearer(alice));
    expect(r.status).toBe(200);
    expect(seen[0]!.principal).toMatchObject({ user: 'alice', via: 'bearer', line: 1, token: { owner: 'alice', label: 'rules' } });
    expect(seen[0]!.user).toBeUndefined();
    expect(JSON.stringify(seen[0]!.principal)).not.toContain(alice);
  });

  it('the principal reaches mounted apps and the app after them, and a host can delete it', async () => {
    const seenBy: Array<[string, unknown]> = [];
    const record = (where: string) => (req: Request, _res: unknown, next: () => void) => {
      seenBy.push([where, req.tokenfence?.user]);
      next();
    };
    // The guard in the parent, read in a mounted app; the guard in a mounted app, read in the parent after it.
    const inner = flavour.create();
    inner.use(record('inner'));
    const guarded = flavour.create();
    guarded.use(tokenGuard({ tokens }));
    guarded.use(record('guarded sub-app'));
    const { port } = await start({}, {
      after: (app) => {
        app.use(inner);
        app.use(record('parent'));
        // A host that takes the token's identity away (an own property, as on any object: delete works).
        app.use((req: Request, _res: unknown, next: () => void) => {
          delete req.tokenfence;
          next();
        });
        app.use(record('after delete'));
      },
    });
    expect((await http(port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
    const outer = flavour.create();
    outer.use('/rest', guarded);
    outer.use(record('after sub-app'));
    outer.use((_req: Request, res: { json(b: unknown): void }) => res.json({}));
    const server = await listen(outer);
    servers.push(server);
    expect((await http(server.port).get('/rest/x').set(bearer(open))).status).toBe(200);
    expect(seenBy).toEqual([
      ['inner', 'alice'],
      ['parent', 'alice'],
      ['after delete', undefined],
      ['guarded sub-app', 'bob'],
      ['after sub-app', 'bob'],
    ]);
  });

  it('acts as the Basic user for an any-user token and refuses it as Bearer', async () => {
    const { port, seen } = await start();
    expect((await http(port).get('/rest/x').set('Authorization', basic('carol', anyUser))).status).toBe(200);
    expect(seen[0]!.principal).toMatchObject({ user: 'carol', via: 'basic' });
    const r = await http(port).get('/rest/x').set(bearer(anyUser));
    expect(r.status).toBe(401);
    expect(errorOf(r).code).toBe('user_required');
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tokenfence", error="invalid_token"');
  });

  it('sets req.user when asked, from the principal or a lookup; a failing lookup fails closed', async () => {
    const plain = await start({ setUser: true });
    await http(plain.port).get('/rest/x').set(bearer(open));
    expect(plain.seen[0]!.user).toMatchObject({ user: 'bob', tokenId: expect.any(String) });
    const lookup = await start({ setUser: async (p) => ({ name: p.user, admin: false }) });
    await http(lookup.port).get('/rest/x').set(bearer(open));
    expect(lookup.seen[0]!.user).toEqual({ name: 'bob', admin: false });
    const errors: string[] = [];
    const failing = await start({ setUser: () => Promise.reject(new Error('directory down')), onError: (_e, context) => errors.push(context) });
    const r = await http(failing.port).get('/rest/x').set(bearer(open));
    expect(r.status).toBe(503);
    expect(failing.seen).toHaveLength(0);
    expect(errors).toHaveLength(1);
  });

  it('with required, asks for a credential on any case of an in-scope path, even in a case-sensitive app (a Router keeps its own settings)', async () => {
    const app = flavour.create();
    app.set('case sensitive routing', true);
    app.use(tokenGuard({ tokens, required: true }));
    // A default Router is case-insensitive whatever the app's setting: it routes /REST/… here.
    const api = flavour.router();
    let reached = 0;
    api.get('/rest/api/2/issue/:key', (_req: Request, res: Response) => {
      reached++;
      res.json({ reached: true });
    });
    app.use(api);
    const server = await listen(app);
    servers.push(server);
    for (const path of ['/REST/api/2/issue/KAN-1', '/Rest/api/2/issue/KAN-1/', '/rest/api/2/issue/KAN-1']) {
      const r = await http(server.port).get(path);
      expect([path, r.status, errorOf(r).code]).toEqual([path, 401, 'credentials_required']);
    }
    expect(reached).toBe(0);
    expect((await http(server.port).get('/REST/api/2/issue/KAN-1').set(bearer(open))).status).toBe(403);
  });

  it('passes requests without a token untouched unless required, and only in scope', async () => {
    const optional = await start();
    expect((await http(optional.port).get('/rest/x')).status).toBe(200);
    expect((await http(optional.port).get('/rest/x').set('Authorization', basic('alice', 'a password'))).status).toBe(200);
    expect(optional.seen.map((s) => s.principal)).toEqual([undefined, undefined]);
    const required = await start({ required: true });
    const r = await http(required.port).get('/rest/x');
    expect(r.status).toBe(401);
    expect(errorOf(r).code).toBe('credentials_required');
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tokenfence"');
    expect((await http(required.port).get('/rest/%2e%2e/x')).status).toBe(401);
    expect((await http(required.port).get('/login')).status).toBe(200);
    expect(required.seen).toHaveLength(1);
  });

  it('uses originalUrl when mounted under a path', async () => {
    const { port, seen } = await start({}, { mount: '/rest' });
    expect((await http(port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
    expect((await http(port).get('/rest/api/2/filter').set(bearer(alice))).status).toBe(403);
    expect(seen).toHaveLength(1);
  });

  it('answers 403 restricted with an explanation, or without one when explain is off', async () => {
    const explained = await start();
    const r = await http(explained.port).delete('/rest/api/2/issue/KAN-1').set(bearer(alice));
    expect(r.status).toBe(403);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tokenfence", error="insufficient_scope"');
    expect(errorOf(r)).toMatchObject({ code: 'restricted', explanation: expect.stringContaining('line 1: method DELETE is not in [GET]') });
    const quiet = await start({ explain: false });
    const q = await http(quiet.port).delete('/rest/api/2/issue/KAN-1').set(bearer(alice));
    expect(errorOf(q).explanation).toBeUndefined();
  });

  it('keeps a token pasted into the path, the User-Agent or X-Request-Id out of audit events and the 403 body', async () => {
    const events: Record<string, unknown>[] = [];
    const { port } = await start({ audit: (e) => void events.push({ ...e }) });
    const pasted = await http(port).get(`/rest/api/2/issue/${alice}`).set({ ...bearer(alice), 'User-Agent': `curl ${open}`, 'X-Request-Id': open });
    // The 403 explanation names the path, redacted too.
    expect(pasted.status).toBe(403);
    expect(errorOf(pasted).explanation).toContain('/rest/api/2/issue/tfk_[redacted]');
    expect(pasted.text).not.toContain(alice.slice(16));
    await http(port).get('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), 'X-Request-Id': 'req-7' });
    expect(events).toHaveLength(2);
    expect(JSON.stringify(events)).not.toContain(alice.slice(16));
    expect(JSON.stringify(events)).not.toContain(open.slice(16));
    expect(events[0]).toMatchObject({ path: '/rest/api/2/issue/tfk_[redacted]', userAgent: 'curl tfk_[redacted]', requestId: undefined, reason: 'restricted' });
    expect(events[1]).toMatchObject({ type: 'token.used', requestId: 'req-7', line: 1 });
  });

  it('redacts a pasted token however it is written: prefix in another case, percent-encoded, double-encoded, or an encoded secret', async () => {
    const events: Record<string, unknown>[] = [];
    const { port } = await start({ audit: (e) => void events.push({ ...e }) });
    const secretPart = alice.slice(4);
    const encodeAll = (text: string) => [...text].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const forms = [`TFK_${secretPart}`, `tf%6B_${secretPart}`, encodeAll(alice), `tfk_${encodeAll(secretPart)}`, encodeAll(encodeAll('tfk_')).replace(/%/g, '%25') + secretPart];
    for (const form of forms) {
      const r = await http(port).get(`/rest/api/2/issue/${form}`).set({ ...bearer(alice), 'User-Agent': `curl TFK_${secretPart}`, 'X-Request-Id': `TFK_${secretPart}` });
      // 403 restricted, or 400 for a path that encodes `%` (ambiguous): refused either way, and redacted.
      expect([form, r.status === 400 || r.status === 403]).toEqual([form, true]);
      expect(r.text).not.toContain(secretPart.slice(12, 36));
    }
    expect(events).toHaveLength(forms.length);
    for (const e of events) expect(e).toMatchObject({ path: '/rest/api/2/issue/tfk_[redacted]', userAgent: 'curl tfk_[redacted]', requestId: undefined });
    const text = JSON.stringify(events);
    expect(text).not.toContain(secretPart.slice(12, 36));
    expect(text).not.toContain(encodeAll(secretPart.slice(12, 36)));
    // A custom requestId that returns a header as it came is checked decoded too.
    const custom: Record<string, unknown>[] = [];
    const withId = await start({ audit: (e) => void custom.push({ ...e }), requestId: (req) => req.headers['x-correlation-id'] as string | undefined });
    await http(withId.port).get('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), 'X-Correlation-Id': `tf%6B_${secretPart}` });
    await http(withId.port).get('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), 'X-Correlation-Id': 'corr-7' });
    expect(custom.map((e) => e.requestId)).toEqual([undefined, 'corr-7']);
    // Decoded for redaction, a path stays printable ASCII: a line separator or a bidirectional control is encoded again.
    events.length = 0;
    await http(port).get(`/rest/api/2/issue/%E2%80%A8%E2%80%AE${encodeAll(alice)}`).set(bearer(alice));
    expect(events[0]!.path).toBe('/rest/api/2/issue/%E2%80%A8%E2%80%AEtfk_[redacted]');
  });

  it('admits HEAD through a GET rule', async () => {
    const { port } = await start();
    expect((await http(port).head('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
  });

  describe('JSON bodies', () => {
    const post = (port: number, body: string) => http(port).post('/rest/api/2/filter').set({ ...bearer(alice), 'Content-Type': 'application/json' }).send(body);

    it('parses the body itself and hands it to the host’s express.json() without a second read', async () => {
      const { port, seen } = await start({}, { after: (app) => app.use(flavour.json()) });
      expect((await post(port, '{"editable":false,"name":"mine"}')).status).toBe(200);
      expect(seen[0]!.body).toEqual({ editable: false, name: 'mine' });
      expect((await post(port, '{"editable":true}')).status).toBe(403);
      expect(seen).toHaveLength(1);
    });

    it('uses a body the host parsed before the guard', async () => {
      const { port, seen } = await start({}, { before: (app) => app.use(flavour.json()) });
      expect((await post(port, '{"editable":false}')).status).toBe(200);
      expect((await post(port, '{"editable":"false "}')).status).toBe(403);
      expect(seen).toHaveLength(1);
    });

    it('does not read a body no candidate rule needs', async () => {
      const { port, seen } = await start({}, { after: (app) => app.use(flavour.json()) });
      const r = await http(port).put('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), 'Content-Type': 'application/json' }).send('{"fields":{}}');
      expect(r.status).toBe(200);
      // The host's parser read it: the guard left the stream alone.
      expect(seen[0]!.body).toEqual({ fields: {} });
    });

    it('waits for the end of the request, and refuses data after the end of a compressed body (no second body for express.json())', async () => {
      const { port, seen } = await start({}, { after: (app) => app.use(flavour.json()) });
      // A deflate or brotli stream ends where its compressed data ends; what follows in the same packet is
      // ignored by zlib. The smuggled body arrives later, when body-parser 2 would have read it and put it
      // on req.body after the guard approved the first. Raw sockets (sendInParts), as supertest cannot send a body
      // in two packets 150 ms apart under one Content-Length.
      const cases = [
        ['deflate', deflateSync],
        ['br', brotliCompressSync],
        ['gzip', gzipSync],
      ] as const;
      for (const [encoding, compress] of cases) {
        const first = Buffer.concat([compress('{"editable":false}'), Buffer.from(' ')]);
        const smuggled = compress('{"editable":true,"name":"smuggled"}');
        const head = [
          'POST /rest/api/2/filter HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Connection: close',
          `Authorization: Bearer ${alice}`,
          'Content-Type: application/json',
          `Content-Encoding: ${encoding}`,
          `Content-Length: ${first.length + smuggled.length}`,
          '',
          '',
        ].join('\r\n');
        const answer = await sendInParts(port, [Buffer.concat([Buffer.from(head, 'latin1'), first]), smuggled], 150);
        expect([encoding, answer.split('\r\n')[0]]).toEqual([encoding, 'HTTP/1.1 400 Bad Request']);
        expect(answer).toContain('"code":"invalid_json"');
      }
      expect(seen).toEqual([]);
      // A whole compressed body sent in two parts is read to its end and passes.
      const body = deflateSync('{"editable":false,"name":"split"}');
      const head = `POST /rest/api/2/filter HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nAuthorization: Bearer ${alice}\r\nContent-Type: application/json\r\nContent-Encoding: deflate\r\nContent-Length: ${body.length}\r\n\r\n`;
      const ok = await sendInParts(port, [Buffer.concat([Buffer.from(head, 'latin1'), body.subarray(0, 5)]), body.subarray(5)], 150);
      expect(ok.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(seen.map((s) => s.body)).toEqual([{ editable: false, name: 'split' }]);
    });

    it('refuses bodies over bodyLimit', async () => {
      const { port } = await start({ bodyLimit: 64 });
      const r = await post(port, JSON.stringify({ editable: false, pad: 'x'.repeat(100) }));
      expect(r.status).toBe(413);
      expect(errorOf(r).code).toBe('body_too_large');
    });

    it('checks a method set by a body-based override after the guard', async () => {
      const override = (app: Express) => {
        app.use(flavour.json());
        app.use((req, _res, next) => {
          if (typeof req.body?._method === 'string') req.method = req.body._method;
          next();
        });
      };
      const { port, seen } = await start({}, { after: override });
      // The guard needed this body (a JsonData rule), so it saw the _method field itself.
      const own = await post(port, '{"editable":false,"_method":"DELETE"}');
      expect(own.status).toBe(403);
      expect(errorOf(own).explanation).toMatch(/^the request could also run as DELETE \(a method override\), and denied/);
      // This body was not needed (line 3 has no JsonData): the host parsed it later and its override
      // tried to turn the approved PUT into a DELETE, which the method lock refused.
      const put = (method: string) =>
        http(port).put('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), 'Content-Type': 'application/json' }).send(JSON.stringify({ _method: method }));
      const late = await put('DELETE');
      expect(late.status).toBe(403);
      expect(late.body).toEqual({ hostError: 'restricted' });
      expect(seen).toHaveLength(0);
      // An override to a method the rules allow goes through.
      expect((await put('GET')).status).toBe(200);
      expect(seen.map((s) => s.method)).toEqual(['GET']);
    });
  });

  describe('the method lock', () => {
    /** A method-override style middleware with a getter tokenfence cannot know of: the X-Action header. */
    const actionOverride = (app: Express) =>
      app.use((req, _res, next) => {
        const action = req.headers['x-action'];
        if (typeof action === 'string') req.method = action;
        next();
      });
    // A PUT without a body: Node's client sends Content-Length: 0.
    const issue = (port: number, headers: Record<string, string>) => http(port).put('/rest/api/2/issue/KAN-1').set({ ...bearer(alice), ...headers });

    it('holds for a request without a body, against an override of any name', async () => {
      const { port, seen } = await start({}, { after: actionOverride });
      // Content-Length: 0, so no body; line 3 allows PUT, and GET by line 1.
      const denied = await issue(port, { 'X-Action': 'DELETE' });
      expect(denied.status).toBe(403);
      expect(denied.body).toEqual({ hostError: 'restricted' });
      expect(seen).toEqual([]);
      expect((await issue(port, { 'X-Action': 'GET' })).status).toBe(200);
      expect(seen.map((s) => s.method)).toEqual(['GET']);
    });

    it('cannot be deleted or redefined by a later middleware', async () => {
      const attempts: string[] = [];
      const remove = (app: Express) =>
        app.use((req, _res, next) => {
          try {
            delete (req as { method?: string }).method;
          } catch (err) {
            attempts.push(`delete: ${(err as Error).name}`);
          }
          try {
            Object.defineProperty(req, 'method', { value: 'DELETE', configurable: true, writable: true });
          } catch (err) {
            attempts.push(`defineProperty: ${(err as Error).name}`);
          }
          next();
        });
      const { port, seen } = await start({}, { after: remove });
      expect((await issue(port, {})).status).toBe(200);
      expect(attempts).toEqual(['delete: TypeError', 'defineProperty: TypeError']);
      expect(seen.map((s) => s.method)).toEqual(['PUT']);
    });

    it('composes when two guards approve one request', async () => {
      const twice = (app: Express) => {
        app.use(tokenGuard({ tokens }));
        actionOverride(app);
      };
      const { port, seen } = await start({}, { after: twice });
      expect((await issue(port, { 'X-Action': 'DELETE' })).status).toBe(403);
      expect((await issue(port, { 'X-Action': 'GET' })).status).toBe(200);
      expect(seen.map((s) => s.method)).toEqual(['GET']);
    });
  });

  describe('routing settings', () => {
    it('follows case sensitive routing and strict routing', async () => {
      const sensitive = await start({}, { before: (app) => app.set('case sensitive routing', true) });
      expect((await http(sensitive.port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
      expect((await http(sensitive.port).get('/rest/API/2/issue/KAN-1').set(bearer(alice))).status).toBe(403);
      expect(errorOf(await http(sensitive.port).get('/REST/api/2/issue/KAN-1').set(bearer(alice))).code).toBe('outside_token_scope');
      const insensitive = await start();
      // Scope follows the app (in scope, so not outside_token_scope); the rules match case-sensitively (SPEC §3.2).
      expect(errorOf(await http(insensitive.port).get('/REST/API/2/issue/KAN-1').set(bearer(alice))).code).toBe('restricted');
      expect((await http(insensitive.port).get('/REST/api/2/issue/KAN-1').set(bearer(open))).status).toBe(200);
      const folding = await start({ caseInsensitiveRules: true });
      expect((await http(folding.port).get('/REST/API/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
      const strict = await start({}, { before: (app) => app.set('strict routing', true) });
      expect((await http(strict.port).get('/rest/api/2/issue/KAN-1/').set(bearer(alice))).status).toBe(403);
      expect((await http(insensitive.port).get('/rest/api/2/issue/KAN-1/').set(bearer(alice))).status).toBe(200);
    });

    it('follows the settings of the app that runs the request: a sub-app of its own, and its parent, alternately', async () => {
      const parent = flavour.create();
      const child = flavour.create();
      child.set('case sensitive routing', true);
      child.use(tokenGuard({ tokens, scope: '/sub/rest/*path' }));
      child.use((_req: Request, res) => res.json({ in: 'child' }));
      parent.use('/sub', child);
      parent.use(tokenGuard({ tokens }));
      parent.use((_req: Request, res) => res.json({ in: 'parent' }));
      const server = await listen(parent);
      servers.push(server);
      for (let i = 0; i < 3; i++) {
        // In the child, case matters: /sub/REST is outside its scope.
        expect(errorOf(await http(server.port).get('/sub/REST/x').set(bearer(open))).code).toBe('outside_token_scope');
        expect((await http(server.port).get('/sub/rest/x').set(bearer(open))).body).toEqual({ in: 'child' });
        // In the parent it does not.
        expect((await http(server.port).get('/REST/x').set(bearer(open))).body).toEqual({ in: 'parent' });
        expect(errorOf(await http(server.port).get('/REST/API/2/issue/KAN-1').set(bearer(alice))).code).toBe('restricted');
        expect((await http(server.port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).body).toEqual({ in: 'parent' });
      }
    });

    it('lets options override the app settings', async () => {
      const { port } = await start({ caseSensitive: true });
      expect((await http(port).get('/rest/API/2/issue/KAN-1').set(bearer(alice))).status).toBe(403);
    });

    it('takes a scope of its own', async () => {
      const { port } = await start({ scope: ['/api/*path', '/rest/api/2/issue/*key'] });
      expect((await http(port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
      expect(errorOf(await http(port).get('/rest/api/2/filter').set(bearer(open))).code).toBe('outside_token_scope');
      expect((await http(port).get('/api/anything').set(bearer(open))).status).toBe(200);
    });
  });

  describe('rate limits', () => {
    it('answers 429 with Retry-After and RateLimit headers, per token', async () => {
      const { port, seen } = await start({ rateLimit: { points: 2, duration: 60 } });
      const ok = await http(port).get('/rest/x').set(bearer(open));
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-limit']).toBe('2');
      expect(ok.headers['ratelimit-remaining']).toBe('1');
      expect(ok.headers['ratelimit-policy']).toBe('2;w=60');
      await http(port).get('/rest/x').set(bearer(open));
      const limited = await http(port).get('/rest/x').set(bearer(open));
      expect(limited.status).toBe(429);
      expect(errorOf(limited).code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-remaining']).toBe('0');
      // Another token has its own budget.
      expect((await http(port).get('/rest/api/2/issue/KAN-1').set(bearer(alice))).status).toBe(200);
      expect(seen).toHaveLength(3);
    });

    it('fails closed when the limiter’s store fails', async () => {
      const broken = new RateLimiterMemory({ points: 5, duration: 60 });
      jest.spyOn(broken, 'consume').mockRejectedValue(new Error('redis down'));
      const errors: unknown[] = [];
      const { port, seen } = await start({ rateLimit: { limiter: broken }, onError: (e) => errors.push(e) });
      const r = await http(port).get('/rest/x').set(bearer(open));
      expect(r.status).toBe(503);
      expect(errorOf(r).code).toBe('unavailable');
      expect(seen).toHaveLength(0);
      expect(errors).toHaveLength(1);
    });
  });

  describe('handler: the app answers refusals in its own format', () => {
    it('gets the coded GuardError after the status and headers are set, with no stack trace, audited once', async () => {
      const events: AuditEvent[] = [];
      const got: GuardError[] = [];
      const { port, seen } = await start({
        audit: (e) => void events.push(e),
        handler: (err, req, res) => {
          got.push(err);
          res.json({ problem: err.code, status: err.status, path: req.path });
        },
      });
      const r = await request(`http://127.0.0.1:${port}`).get('/rest/api/2/filter').set('Authorization', `Bearer ${alice}`);
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ problem: 'restricted', status: 403, path: '/rest/api/2/filter' });
      expect(r.headers['www-authenticate']).toBe('Bearer realm="tokenfence", error="insufficient_scope"');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(got).toHaveLength(1);
      expect(got[0]).toBeInstanceOf(GuardError);
      expect(got[0]!.stack).toBe(`GuardError: ${got[0]!.message}`);
      expect(events.map((e) => [e.type, e.reason])).toEqual([['token.denied', 'restricted']]);
      expect(seen).toHaveLength(0);
      const bad = await request(`http://127.0.0.1:${port}`).get('/rest/x').set('Authorization', `Bearer ${alice.slice(0, -1)}x`);
      expect(bad.status).toBe(401);
      expect(bad.body.problem).toBe('checksum');
      expect(bad.headers['www-authenticate']).toBe('Bearer realm="tokenfence", error="invalid_token"');
    });

    it('passes the refusal to the app’s error handler with next(err), as passport’s failWithError does; rate-limit headers stay', async () => {
      const { port } = await start({ rateLimit: { points: 1, duration: 60 }, handler: (err, _req, _res, next) => next(err) });
      const agent = request(`http://127.0.0.1:${port}`);
      expect((await agent.get('/rest/x').set('Authorization', `Bearer ${open}`)).status).toBe(200);
      const limited = await agent.get('/rest/x').set('Authorization', `Bearer ${open}`);
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ hostError: 'rate_limited' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-remaining']).toBe('0');
    });

    it('a handler that throws is reported, and the default body is written', async () => {
      const errors: string[] = [];
      const { port } = await start({
        handler: () => {
          throw new Error('template missing');
        },
        onError: (_e, context) => errors.push(context),
      });
      const r = await request(`http://127.0.0.1:${port}`).get('/rest/api/2/filter').set('Authorization', `Bearer ${alice}`);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('restricted');
      expect(errors).toEqual(['options.handler failed; the default error body was written']);
    });

    it('the callbacks get Express’s Request: requestId and setUser may use req.get', async () => {
      const events: AuditEvent[] = [];
      const { port, seen } = await start({
        audit: (e) => void events.push(e),
        requestId: (req) => req.get('x-trace-id'),
        setUser: (principal, req) => ({ name: principal.user, agent: req.get('user-agent') }),
      });
      const r = await request(`http://127.0.0.1:${port}`).get('/rest/x').set('Authorization', `Bearer ${open}`).set('X-Trace-Id', 'trace-7').set('User-Agent', 'probe');
      expect(r.status).toBe(200);
      expect(seen[0]!.user).toEqual({ name: 'bob', agent: 'probe' });
      expect(events[0]!.requestId).toBe('trace-7');
    });
  });

  it('survives host hooks that throw (requestId, onError, a trust proxy function): coded answers, no stack, no crash', async () => {
    const store = new MemoryTokenStore();
    const hooked = createTokenService({ store });
    const { token } = await hooked.issue({ owner: 'erin', label: 'x', restrictions: '[GET]/rest/api/2/issue/KAN-\\d+' });
    const reported: string[] = [];
    const events: Record<string, unknown>[] = [];
    const app = flavour.create();
    app.set('trust proxy', () => {
      throw new Error('trust proxy down');
    });
    app.use(
      tokenGuard({
        tokens: hooked,
        audit: (e) => void events.push({ ...e }),
        requestId: () => {
          throw new Error('no correlation id');
        },
        onError: (_e, context) => {
          reported.push(context);
          throw new Error('the reporter is down too');
        },
      }),
    );
    app.use((_req: Request, res: Response) => res.json({ reached: true }));
    const server = await listen(app);
    servers.push(server);
    // X-Forwarded-For makes Express's req.ip call the trust proxy function.
    const get = (path: string, t = token) => http(server.port).get(path).set({ ...bearer(t), 'X-Forwarded-For': '203.0.113.9' });
    // The first call reads the store (a promise), the second is a repeat from the row cache (no promise).
    expect((await get('/rest/api/2/issue/KAN-1')).status).toBe(200);
    expect((await get('/rest/api/2/issue/KAN-1')).status).toBe(200);
    const refused = await get('/rest/api/2/issue/ABC-1');
    expect(refused.status).toBe(403);
    expect(refused.text).not.toMatch(/at .*\.(js|ts):\d+/);
    // The store fails for a token not in the row cache: still a coded 503 although the reporter throws.
    const other = await hooked.issue({ owner: 'erin', label: 'y' });
    jest.spyOn(store, 'get').mockImplementation(() => {
      throw new Error('store down');
    });
    const down = await get('/rest/api/2/issue/KAN-1', other.token);
    expect(down.status).toBe(503);
    expect(errorOf(down).code).toBe('unavailable');
    expect(events.map((e) => [e.type, e.requestId, e.ip])).toEqual([
      ['token.used', undefined, '127.0.0.1'],
      ['token.used', undefined, '127.0.0.1'],
      ['token.denied', undefined, '127.0.0.1'],
      ['token.denied', undefined, '127.0.0.1'],
    ]);
    expect(reported).toContain('options.requestId failed; the audit event has no request id');
    expect(reported).toContain("req.ip failed (the app's trust proxy setting); the socket's address is used");
    await hooked.close();
  });

  it('reports internal errors to a pino-style logger: name, code and message only', async () => {
    const store = new MemoryTokenStore();
    const failing = createTokenService({ store });
    const { token } = await failing.issue({ owner: 'erin', label: 'x' });
    jest.spyOn(store, 'get').mockImplementation(() => {
      throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED', config: { password: 'db-secret' } });
    });
    const logged: [object, string][] = [];
    const app = flavour.create();
    app.use(tokenGuard({ tokens: failing, logger: { error: (obj, msg) => void logged.push([obj, msg]) } }));
    app.use((_req, res) => res.end());
    const server = await listen(app);
    servers.push(server);
    expect((await http(server.port).get('/rest/x').set(bearer(token))).status).toBe(503);
    expect(logged).toEqual([[{ err: { name: 'Error', code: 'ECONNREFUSED', message: 'connection refused' } }, 'tokenfence: the token guard failed; the request was refused with 503']]);
    expect(JSON.stringify(logged)).not.toContain('db-secret');
    await failing.close();
  });

  it('fails closed with 503 when the token store fails, with no stack or detail in the body', async () => {
    const store = new MemoryTokenStore();
    const failing = createTokenService({ store });
    const { token } = await failing.issue({ owner: 'dave', label: 'x' });
    jest.spyOn(store, 'get').mockImplementation(() => {
      throw new Error('SQLITE_BUSY: database is locked at /var/lib/tokens.db');
    });
    const reported: string[] = [];
    const app = flavour.create();
    app.use(tokenGuard({ tokens: failing, onError: (e, context) => reported.push(`${context}: ${(e as Error).message}`) }));
    let reached = 0;
    app.use((_req, res) => {
      reached++;
      res.end();
    });
    const server = await listen(app);
    servers.push(server);
    const r = await http(server.port).get('/rest/x').set(bearer(token));
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: { status: 503, code: 'unavailable', message: 'The token service is unavailable; retry later.' } });
    expect(r.text).not.toMatch(/SQLITE|at \/|Error/);
    expect(reached).toBe(0);
    expect(reported).toEqual([expect.stringContaining('database is locked')]);
    await failing.close();
  });
});

describe('tokenGuard options', () => {
  const tokens = createTokenService({ store: new MemoryTokenStore() });
  afterAll(() => tokens.close());

  it.each([
    [undefined, /needs an options object/],
    [{}, /options.tokens must be a token service/],
    [{ tokens, scopes: ['/rest/*path'] }, /unknown option "scopes"; did you mean "scope"\?/],
    [{ tokens, Required: true }, /did you mean "required"/],
    [{ tokens, required: 'yes' }, /options.required must be a boolean/],
    [{ tokens, scope: '/rest/*' }, /options.scope/],
    [{ tokens, bodyLimit: 'big' }, /options.bodyLimit/],
    [{ tokens, rateLimit: { points: 0 } }, /options.rateLimit.points/],
    [{ tokens, audit: 'file.log' }, /options.audit must be a function/],
    [{ tokens, setUser: 'yes' }, /options.setUser/],
    [{ tokens, realm: 'a\nb' }, /options.realm/],
    [{ tokens, logger: console.log }, /options.logger must have an error/],
    [{ tokens, handler: 'json' }, /options.handler must be a function/],
    [{ tokens, failWithError: true }, /failWithError is handler: \(err, req, res, next\) => next\(err\) here/],
  ])('refuses %p at start-up with a TypeError', (options, message) => {
    expect(() => tokenGuard(options as never)).toThrow(TypeError);
    expect(() => tokenGuard(options as never)).toThrow(message);
  });

  it('exposes its compiled scope', () => {
    expect(tokenGuard({ tokens, scope: '/api/*path' }).scope.patterns).toEqual(['/api/*path']);
  });
});
