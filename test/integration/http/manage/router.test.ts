// The token management API through real HTTP on Express 4 and 5 (SPEC §7, issue 15): every route and error
// status, admin and non-admin, secure mode, quotas and lifetime policy with their messages, token-authenticated
// calls refused, and XSRF on cookie calls — the whole stack as the demo mounts it.
import request from 'supertest';
import {
  createTokenService,
  memorySessionStorage,
  MemoryTokenStore,
  sessionRouter,
  tokenGuard,
  tokenRouter,
  xsrfProtection,
  type AuditEvent,
  type TokenPolicy,
  type TokenRouterOptions,
  type TokenService,
} from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';

const USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw' };
const MOUNT = '/rest/api-tokens/latest';
const JSON_TYPE = 'application/json';

describe.each(EXPRESS_FLAVOURS)('tokenRouter on $name', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  const services: TokenService[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(services.map((s) => s.close()));
  });

  /** An app as the demo mounts it, with users logged in by cookie. */
  async function start(policy: TokenPolicy = {}, options: Partial<TokenRouterOptions> = {}) {
    const tokens = createTokenService({ store: new MemoryTokenStore(), policy });
    services.push(tokens);
    // Long timeouts: a test moves the clock by days.
    const sessions = sessionRouter({
      storage: memorySessionStorage(),
      secret: 'manage-session-secret-of-32-chars!!',
      verifyPassword: (u, p) => USERS[u] === p,
      ipLimit: false,
      idleTimeoutMs: 20 * 86_400_000,
      absoluteTimeoutMs: 30 * 86_400_000,
    });
    const app = flavour.create();
    app.use(tokenGuard({ tokens }));
    app.use(sessions.middleware);
    app.use('/rest', xsrfProtection({ secret: 'manage-form-token-secret-of-32-chars' }));
    app.use('/rest/auth/1/session', sessions);
    app.use(MOUNT, tokenRouter({ tokens, isAdmin: (user) => user === 'admin', ...options }));
    app.get('/rest/api/2/myself', (req, res) => res.json({ name: req.tokenfence?.user }));
    const server = await listen(app);
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const cookies: Record<string, string> = {};
    for (const user of Object.keys(USERS)) {
      const r = await request(base).post('/rest/auth/1/session').set('Content-Type', JSON_TYPE).send(JSON.stringify({ username: user, password: USERS[user] }));
      cookies[user] = (r.headers['set-cookie'] as unknown as string[])[0]!.split(';', 1)[0]!;
    }
    /** A JSON call as `user` (with the cookie, as a browser page's script sends it). */
    const as = (user: string) => {
      const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: unknown) => {
        const r = request(base)[method](`${MOUNT}${path}`).set('Cookie', cookies[user]!);
        return body === undefined ? (method === 'get' ? r : r.set('X-Atlassian-Token', 'no-check')) : r.set('Content-Type', JSON_TYPE).send(JSON.stringify(body));
      };
      return {
        get: (path: string) => call('get', path),
        post: (path: string, body?: unknown) => call('post', path, body),
        patch: (path: string, body: unknown) => call('patch', path, body),
        delete: (path: string) => call('delete', path),
      };
    };
    return { base, tokens, as, cookies };
  }

  it('creates a token: 201 with the secret once, the record and snippets that work; lists never show the secret', async () => {
    const { base, as } = await start();
    const created = await as('alice').post('/', { label: 'ci', expiresInDays: 30, restrictions: '[GET]/rest/api/2/myself' });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { token, record, snippets } = created.body;
    expect(token).toMatch(/^tfk_/);
    expect(record).toMatchObject({ owner: 'alice', label: 'ci', restrictions: '[GET]/rest/api/2/myself', usageCount: 0, expired: false, expiresSoon: false });
    expect(record.expiresInDays).toBeCloseTo(30, 1);
    expect(snippets.curlBearer).toBe(`curl -H 'Authorization: Bearer ${token}' '${base}/rest/api/2/myself'`);
    expect(snippets.curlBasic).toBe(`curl -u 'alice:${token}' '${base}/rest/api/2/myself'`);
    expect(snippets.fetch).toContain(`Authorization: "Bearer ${token}"`);
    expect(snippets.powershell).toBe(`Invoke-RestMethod -Uri '${base}/rest/api/2/myself' -Headers @{ Authorization = 'Bearer ${token}' }`);
    // The snippet's call works.
    expect((await request(base).get('/rest/api/2/myself').set('Authorization', `Bearer ${token}`)).body).toEqual({ name: 'alice' });
    const list = await as('alice').get('/');
    expect(list.status).toBe(200);
    expect(list.body.map((t: { id: string }) => t.id)).toEqual([record.id]);
    expect(list.body[0]).toMatchObject({ id: record.id, label: 'ci', usageCount: 1, lastAccessedIp: expect.any(String) });
    expect(JSON.stringify(list.body)).not.toContain(token.slice(-20));
    expect(list.body[0]).not.toHaveProperty('hash');
    expect(list.body[0]).not.toHaveProperty('salt');
    expect((await as('bob').get('/')).body).toEqual([]);
  });

  it('flags a token that expires within 5 days', async () => {
    const { as } = await start();
    await as('alice').post('/', { label: 'soon', expiresInDays: 3 });
    await as('alice').post('/', { label: 'later', expiresInDays: 6 });
    const flags = Object.fromEntries((await as('alice').get('/')).body.map((t: { label: string; expiresSoon: boolean }) => [t.label, t.expiresSoon]));
    expect(flags).toEqual({ soon: true, later: false });
  });

  it('GET, PATCH, rotate and DELETE one token; another user gets 404 for it, never 403', async () => {
    const { base, as } = await start();
    const { token, record } = (await as('alice').post('/', { label: 'one' })).body;
    expect((await as('alice').get(`/${record.id}`)).body).toMatchObject({ id: record.id, label: 'one' });
    expect((await as('bob').get(`/${record.id}`)).status).toBe(404);
    expect((await as('bob').delete(`/${record.id}`)).status).toBe(404);
    const edited = await as('alice').patch(`/${record.id}`, { label: 'renamed', restrictions: '[GET]/rest/api/2/myself' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ label: 'renamed', restrictions: '[GET]/rest/api/2/myself' });
    const rotated = await as('alice').post(`/${record.id}/rotate`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.token).not.toBe(token);
    expect((await request(base).get('/rest/api/2/myself').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    expect((await request(base).get('/rest/api/2/myself').set('Authorization', `Bearer ${rotated.body.token}`)).status).toBe(200);
    // A rotation issues a new token (a new id) and revokes the old one.
    expect(rotated.body.record.id).not.toBe(record.id);
    expect((await as('alice').get(`/${record.id}`)).status).toBe(404);
    expect((await as('alice').delete(`/${rotated.body.record.id}`)).status).toBe(204);
    expect((await request(base).get('/rest/api/2/myself').set('Authorization', `Bearer ${rotated.body.token}`)).body.error.code).toBe('revoked');
    expect((await as('alice').get(`/${rotated.body.record.id}`)).status).toBe(404);
    expect((await as('alice').get('/')).body).toEqual([]);
    expect((await as('alice').get('/not-an-id')).status).toBe(404);
  });

  it('DELETE /all and DELETE /expired', async () => {
    const { as, tokens } = await start();
    const a = (await as('alice').post('/', { label: 'a' })).body.record.id as string;
    await as('alice').post('/', { label: 'b' });
    const bob = (await as('bob').post('/', { label: 'bob' })).body.record.id as string;
    expect((await as('alice').delete('/all')).status).toBe(204);
    expect((await as('alice').get('/')).body).toEqual([]);
    expect((await as('bob').get('/')).body.map((t: { id: string }) => t.id)).toEqual([bob]);
    // An expired token: issued already expired is refused by policy, so expire one by editing its record's expiry.
    const fresh = (await as('alice').post('/', { label: 'short', expiresInDays: 1 })).body.record.id as string;
    const live = (await as('alice').post('/', { label: 'live', expiresInDays: 10 })).body.record.id as string;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 2 * 86_400_000);
    try {
      expect((await as('alice').delete('/expired')).status).toBe(204);
    } finally {
      clock.mockRestore();
    }
    expect((await as('alice').get('/')).body.map((t: { id: string }) => t.id)).toEqual([live]);
    expect((await tokens.get(fresh))!.revokedAt).not.toBeNull();
    expect((await tokens.get(a))!.revokedAt).not.toBeNull();
  });

  it('owner (and an any-user token, owner null) is admin-only; admins see and revoke every user’s tokens', async () => {
    const { as, base } = await start();
    const refused = await as('alice').post('/', { label: 'for bob', owner: 'bob' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'admin_only', message: expect.stringMatching(/owner/) });
    expect((await as('alice').post('/', { label: 'any', owner: null })).status).toBe(403);
    const anyUser = await as('admin').post('/', { label: 'any', owner: null });
    expect(anyUser.status).toBe(201);
    expect(anyUser.body.record.owner).toBeNull();
    expect(anyUser.body.snippets.curlBearer).toMatch(/^curl -u 'USERNAME:tfk_/);
    expect((await request(base).get('/rest/api/2/myself').auth('carol', anyUser.body.token)).body).toEqual({ name: 'carol' });
    await as('admin').post('/', { label: 'for bob', owner: 'bob' });
    await as('alice').post('/', { label: 'mine' });
    expect((await as('alice').get('/admin/all')).status).toBe(403);
    const all = await as('admin').get('/admin/all');
    expect(all.status).toBe(200);
    expect(all.body.map((g: { username: string | null; count: number }) => [g.username, g.count])).toEqual([
      ['alice', 1],
      ['bob', 1],
      [null, 1],
    ]);
    expect((await as('alice').delete('/admin/users/bob')).status).toBe(403);
    expect((await as('admin').delete('/admin/users/bob')).status).toBe(204);
    expect((await as('bob').get('/')).body).toEqual([]);
    // An admin may read and revoke anyone's token by id.
    const alices = (await as('alice').get('/')).body[0].id as string;
    expect((await as('admin').get(`/${alices}`)).status).toBe(200);
    expect((await as('admin').delete(`/${alices}`)).status).toBe(204);
  });

  it('POST /validate gives errors and warnings with line and column; POST /check gives the decision and its explanation', async () => {
    const { as } = await start();
    const bad = await as('alice').post('/validate', { restrictions: '[GET]/rest/x\n[FROB]/rest/y' });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ ok: false, errors: [{ line: 2, column: expect.any(Number), code: 'unknown_method' }] });
    expect((await as('alice').post('/validate', { restrictions: '[GET]/rest/x' })).body).toMatchObject({ ok: true, errors: [] });
    const allowed = await as('alice').post('/check', { restrictions: '[GET]/rest/api/2/issue/[A-Z]+-\\d+', request: { method: 'GET', url: '/rest/api/2/issue/JRA-1' } });
    expect(allowed.body).toMatchObject({ allowed: true, line: 1 });
    const denied = await as('alice').post('/check', { restrictions: '[GET]/rest/api/2/issue/[A-Z]+-\\d+', request: { method: 'DELETE', url: '/rest/api/2/issue/JRA-1' } });
    expect(denied.body).toMatchObject({ allowed: false, reason: 'no_rule_matched', explanation: expect.stringMatching(/DELETE/) });
    const json = await as('alice').post('/check', { restrictions: '[POST]/rest/x[JsonData::a==1]', request: { method: 'POST', url: '/rest/x', contentType: 'application/json', body: { a: '1' } } });
    expect(json.body.allowed).toBe(true);
    const unparsable = await as('alice').post('/check', { restrictions: '[FROB]/x', request: { method: 'GET', url: '/x' } });
    expect(unparsable.status).toBe(422);
    expect(unparsable.body.error).toMatchObject({ code: 'invalid_restrictions', details: [{ line: 1, code: 'unknown_method' }] });
  });

  it('rule checks are limited per user (429 naming the limit)', async () => {
    const { as } = await start({}, { parseLimit: { points: 2, duration: 60 } });
    for (let i = 0; i < 2; i++) expect((await as('alice').post('/validate', { restrictions: '/x' })).status).toBe(200);
    const limited = await as('alice').post('/validate', { restrictions: '/x' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.message).toMatch(/2 per 60 s/);
    expect((await as('bob').post('/validate', { restrictions: '/x' })).status).toBe(200);
  });

  it('answers bad bodies with 400, bad restrictions with 422 (line and column), policy limits with their messages', async () => {
    const { as, base, cookies } = await start({ maxLifetimeDays: 30, maxTokensPerUser: 1 });
    for (const body of [{}, { label: '' }, { label: 'x', extra: 1 }, { label: 'x', expiresAt: 'tomorrow' }, { label: 'x', expiresAt: '2030-01-01T00:00:00Z', expiresInDays: 3 }]) {
      const r = await as('alice').post('/', body);
      expect([JSON.stringify(body), r.status, r.body.error.code]).toEqual([JSON.stringify(body), 400, 'invalid_body']);
    }
    const notJson = await request(base).post(`${MOUNT}/`).set('Cookie', cookies.alice!).set('X-Atlassian-Token', 'no-check').set('Content-Type', 'text/plain').send('{"label":"x"}');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatchObject({ code: 'invalid_body', message: expect.stringMatching(/application\/json/) });
    const syntax = await as('alice').post('/', { label: 'x', restrictions: '[GET]/ok\n[GET]/rest/(' });
    expect(syntax.status).toBe(422);
    expect(syntax.body.error.details[0]).toMatchObject({ line: 2, column: expect.any(Number) });
    const tooLong = await as('alice').post('/', { label: 'x', expiresInDays: 31 });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.error).toMatchObject({ code: 'lifetime_exceeded', message: expect.stringMatching(/30/) });
    expect((await as('alice').post('/', { label: 'one', expiresInDays: 10 })).status).toBe(201);
    const quota = await as('alice').post('/', { label: 'two', expiresInDays: 10 });
    expect(quota.status).toBe(409);
    expect(quota.body.error).toMatchObject({ code: 'quota_exceeded', message: expect.stringMatching(/1/) });
  });

  it('secure mode: PATCH is 409 naming secure mode', async () => {
    const { as } = await start({ secureMode: true });
    const id = (await as('alice').post('/', { label: 'fixed' })).body.record.id as string;
    const r = await as('alice').patch(`/${id}`, { label: 'changed' });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'secure_mode', message: expect.stringMatching(/secure mode/) });
  });

  it('tokens cannot manage tokens: a token call is 403 whatever it carries; without login 401', async () => {
    const { base, as } = await start();
    const { token } = (await as('alice').post('/', { label: 'unrestricted' })).body;
    for (const call of [request(base).get(`${MOUNT}/`), request(base).post(`${MOUNT}/`).set('Content-Type', JSON_TYPE).send('{"label":"minted"}')]) {
      const r = await call.set('Authorization', `Bearer ${token}`);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('token_auth_refused');
    }
    expect((await as('alice').get('/')).body).toHaveLength(1);
    const anonymous = await request(base).get(`${MOUNT}/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('not_authenticated');
    expect(anonymous.headers['www-authenticate']).toBeUndefined();
  });

  it('audits the refusals that say something about the caller (manage.denied), not mistyped bodies', async () => {
    const events: AuditEvent[] = [];
    const { base, as } = await start({}, { audit: (e) => void events.push(e) });
    const { token } = (await as('alice').post('/', { label: 't' })).body;
    await request(base).get(`${MOUNT}/`).set('Authorization', `Bearer ${token}`);
    await request(base).get(`${MOUNT}/`);
    await as('alice').get('/admin/all');
    await as('bob').get('/AbCdEf123456');
    await as('alice').post('/', { label: '' });
    expect(events.map((e) => [e.type, e.user, e.via, e.reason, e.status])).toEqual([
      ['manage.denied', 'alice', 'bearer', 'token_auth_refused', 403],
      ['manage.denied', null, undefined, 'not_authenticated', 401],
      ['manage.denied', 'alice', 'session', 'admin_only', 403],
      ['manage.denied', 'bob', 'session', 'not_found', 404],
    ]);
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('cookie calls meet the XSRF rules: a form-like POST without a form token is refused before the router', async () => {
    const { base, as, cookies } = await start();
    const cookie = cookies.alice!;
    const forged = await request(base).post(`${MOUNT}/`).set('Cookie', cookie).set('Content-Type', 'text/plain').send('{"label":"forged"}');
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('xsrf_check_failed');
    const crossSite = await request(base).post(`${MOUNT}/`).set('Cookie', cookie).set('Content-Type', JSON_TYPE).set('Origin', 'https://evil.example').send('{"label":"forged"}');
    expect(crossSite.status).toBe(403);
    expect((await as('alice').get('/')).body).toEqual([]);
  });

  it('serves its OpenAPI document without login', async () => {
    const { base } = await start();
    const r = await request(base).get(`${MOUNT}/openapi.json`);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(Object.keys(r.body.paths)).toContain(`${MOUNT}/{id}/rotate`);
  });
});

describe('tokenRouter options', () => {
  const tokens = createTokenService({ store: new MemoryTokenStore() });
  afterAll(() => tokens.close());
  it.each([
    [undefined, /needs an options object/],
    [{}, /options.tokens must be a token service/],
    [{ tokens, isadmin: () => true }, /did you mean "isAdmin"/],
    [{ tokens, allowTokenAuth: true }, /did you mean "allowTokenAuthentication"/],
    [{ tokens, exampleUrl: '/rest/x' }, /absolute http\(s\) URL/],
    [{ tokens, parseLimit: { max: 5 } }, /"points" \(parses per window\)/],
    [{ tokens, basePath: 'jira' }, /options.basePath/],
  ])('refuses %p with a TypeError naming the option', (options, message) => {
    expect(() => tokenRouter(options as never)).toThrow(TypeError);
    expect(() => tokenRouter(options as never)).toThrow(message);
  });
});
