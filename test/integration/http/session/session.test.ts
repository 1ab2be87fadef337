// The session resource through real HTTP on Express 4 and 5 (SPEC §8): Jira's login body and reasons, the
// cookie, regeneration at login, per-account CAPTCHA after failed logins, the per-address limit, logout,
// timeouts, and the stale-cookie 401 under /rest.
import request from 'supertest';
import type { Express } from 'express';
import {
  callerOf,
  createTokenService,
  hashPassword,
  memorySessionStorage,
  MemoryTokenStore,
  sessionRouter,
  tokenGuard,
  type SessionOptions,
  type TokenService,
} from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';

const SECRET = 'a-session-secret-of-at-least-32-characters';
const PASSWORDS: Record<string, string> = { alice: 'wonderland', bob: 'builder' };

describe.each(EXPRESS_FLAVOURS)('sessionRouter on $name', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  let tokens: TokenService;
  let aliceToken: string;
  beforeAll(async () => {
    tokens = createTokenService({ store: new MemoryTokenStore() });
    aliceToken = (await tokens.issue({ owner: 'alice', label: 'api' })).token;
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await tokens.close();
  });

  /** An app as the demo mounts it: the guard, the session middleware, the resource, and a Jira-like route. */
  async function start(options: Partial<SessionOptions> = {}) {
    const checked: string[] = [];
    const sessions = sessionRouter({
      storage: memorySessionStorage(),
      secret: SECRET,
      verifyPassword: (username, password) => {
        checked.push(username);
        return PASSWORDS[username] === password;
      },
      ...options,
    } as SessionOptions);
    const app: Express = flavour.create();
    app.use(tokenGuard({ tokens }));
    app.use(sessions.middleware);
    app.use('/rest/auth/1/session', sessions);
    app.get('/rest/api/2/myself', (req, res) => res.json({ caller: callerOf(req) ?? null }));
    app.get('/public', (req, res) => res.json({ caller: callerOf(req) ?? null }));
    const server = await listen(app);
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    return { base, sessions, checked, agent: () => request.agent(base) };
  }
  const login = (agent: request.Agent | request.SuperTest<request.Test>, username: string, password: string, extra: Record<string, string> = {}) =>
    agent.post('/rest/auth/1/session').set('Content-Type', 'application/json').send(JSON.stringify({ username, password, ...extra }));

  it('logs in with Jira’s body, a hardened cookie and X-Seraph-LoginReason: OK; GET shows the user; DELETE logs out', async () => {
    const { agent } = await start();
    const a = agent();
    const r = await login(a, 'alice', 'wonderland');
    expect(r.status).toBe(200);
    expect(r.headers['x-seraph-loginreason']).toBe('OK');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body).toEqual({ session: { name: 'JSESSIONID', value: expect.any(String) }, loginInfo: { loginCount: 1, failedLoginCount: 0 } });
    const cookie = (r.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('JSESSIONID='))!;
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/; Secure/); // 'auto' over plain HTTP
    expect(decodeURIComponent(cookie)).toContain(r.body.session.value);

    const me = await a.get('/rest/auth/1/session');
    expect(me.status).toBe(200);
    expect(me.headers['x-seraph-loginreason']).toBe('OK');
    expect(me.body).toEqual({ self: expect.stringMatching(/\/rest\/api\/2\/user\?username=alice$/), name: 'alice', loginInfo: { loginCount: 1, failedLoginCount: 0, previousLoginTime: undefined } });
    expect((await a.get('/rest/api/2/myself')).body).toEqual({ caller: { user: 'alice', via: 'session' } });

    const out = await a.delete('/rest/auth/1/session');
    expect(out.status).toBe(204);
    expect(out.headers['x-seraph-loginreason']).toBe('OUT');
    const after = await a.get('/rest/auth/1/session');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('not_logged_in');
  });

  it('a second login reports the previous one', async () => {
    const { agent } = await start();
    await login(agent(), 'alice', 'wonderland');
    const second = await login(agent(), 'alice', 'wonderland');
    expect(second.body.loginInfo).toEqual({ loginCount: 2, failedLoginCount: 0, previousLoginTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('regenerates the session id at login: a cookie planted before login is never adopted', async () => {
    const { agent, base } = await start();
    // The attacker logs in as bob and plants bob's valid, signed cookie in the victim's browser.
    const attacker = agent();
    const own = await login(attacker, 'bob', 'builder');
    const planted = (own.headers['set-cookie'] as unknown as string[])[0]!.split(';', 1)[0]!;
    const r = await request(base).post('/rest/auth/1/session').set('Cookie', planted).set('Content-Type', 'application/json').send(JSON.stringify({ username: 'alice', password: 'wonderland' }));
    expect(r.status).toBe(200);
    expect(r.body.session.value).not.toBe(own.body.session.value);
    expect((r.headers['set-cookie'] as unknown as string[])[0]!.split(';', 1)[0]).not.toBe(planted);
    // Had the session been kept, the attacker's cookie would now act as alice. It acts as nobody: the
    // regeneration destroyed the session the planted cookie named.
    const theirs = await attacker.get('/rest/auth/1/session');
    expect(theirs.status).toBe(401);
    expect(theirs.body.name).toBeUndefined();
  });

  it('unknown user and wrong password give the same status, headers and body', async () => {
    const { agent } = await start({ ipLimit: false });
    const wrong = await login(agent(), 'alice', 'nope');
    const unknown = await login(agent(), 'mallory', 'nope');
    const strip = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['x-seraph-loginreason']).toBe('AUTHENTICATED_FAILED');
    expect(wrong.body).toEqual({ error: { status: 401, code: 'login_failed', message: expect.any(String) } });
    expect(unknown.status).toBe(wrong.status);
    expect(strip(unknown.headers)).toEqual(strip(wrong.headers));
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('after 3 failures the account needs a CAPTCHA: refused without checking the password, in any case or width of the name', async () => {
    const { agent, checked, sessions } = await start({ ipLimit: false });
    for (const name of ['alice', 'ALICE', 'ａｌｉｃｅ']) expect((await login(agent(), name, 'guess')).status).toBe(401);
    checked.length = 0;
    const r = await login(agent(), 'alice', 'wonderland');
    expect(r.status).toBe(403);
    expect(r.headers['x-seraph-loginreason']).toBe('AUTHENTICATION_DENIED');
    expect(r.headers['x-authentication-denied-reason']).toBe('CAPTCHA_CHALLENGE; login-url=/login');
    expect(r.body.error.code).toBe('captcha_required');
    expect(checked).toEqual([]);
    // Another account is not affected.
    expect((await login(agent(), 'bob', 'builder')).status).toBe(200);
    // An administrator's reset lets alice in again, and a success starts the count afresh.
    await sessions.resetFailedLogins('Alice');
    expect((await login(agent(), 'alice', 'wonderland')).status).toBe(200);
  });

  it('a solved CAPTCHA lets the password be checked, and a success resets the count', async () => {
    const answers: string[] = [];
    const { agent } = await start({ ipLimit: false, maxFailedLogins: 2, verifyCaptcha: (answer) => (answers.push(answer), answer === 'right') });
    for (let i = 0; i < 2; i++) await login(agent(), 'bob', 'guess');
    expect((await login(agent(), 'bob', 'builder', { captcha: 'wrong' })).status).toBe(403);
    expect((await login(agent(), 'bob', 'builder', { captcha: 'right' })).status).toBe(200);
    expect(answers).toEqual(['wrong', 'right']);
    expect((await login(agent(), 'bob', 'builder')).status).toBe(200);
  });

  it('limits failed logins per client address across accounts (password spraying): 429 with Retry-After', async () => {
    const { agent } = await start({ ipLimit: { points: 2, duration: 600 } });
    expect((await login(agent(), 'alice', 'x')).status).toBe(401);
    expect((await login(agent(), 'bob', 'x')).status).toBe(401);
    const r = await login(agent(), 'carol', 'x');
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('login_rate_limited');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(r.headers['x-seraph-loginreason']).toBe('AUTHENTICATION_DENIED');
  });

  it('counts parallel attempts before checking passwords: a burst of guesses gets no more than maxFailedLogins checks', async () => {
    const { agent, checked } = await start({ ipLimit: false });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(agent(), 'alice', `guess-${i}`)));
    expect(checked.length).toBeLessThanOrEqual(3);
    expect(answers.filter((r) => r.status === 401)).toHaveLength(checked.length);
    expect(answers.filter((r) => r.status === 403 && r.body.error.code === 'captcha_required')).toHaveLength(20 - checked.length);
  });

  it('counts parallel attempts against the address limit too (password spraying in one burst)', async () => {
    const { agent, checked } = await start({ ipLimit: { points: 5, duration: 600 } });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(agent(), `user-${i}`, 'guess')));
    expect(checked.length).toBeLessThanOrEqual(5);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(20 - checked.length);
    // A success gives its count back: the right password of another account still gets through afterwards?
    // No: the address is over its limit now, whatever the password.
    expect((await login(agent(), 'bob', 'builder')).status).toBe(429);
  });

  it('a success gives the address its count back', async () => {
    const { agent } = await start({ ipLimit: { points: 2, duration: 600 } });
    for (let i = 0; i < 5; i++) expect((await login(agent(), 'bob', 'builder')).status).toBe(200);
    expect((await login(agent(), 'alice', 'x')).status).toBe(401);
  });

  it('a user name with a control or line-separator character is refused (it would forge audit lines)', async () => {
    const { agent, checked } = await start();
    for (const name of ['mallory\naudit: admin logged in', 'a\u2028b', 'tab\there', 'nul\u0000']) {
      const r = await login(agent(), name, 'x');
      expect([name, r.status, r.body.error.code]).toEqual([name, 400, 'invalid_login_body']);
    }
    expect(checked).toEqual([]);
  });

  it('answers a failed login without waiting for the login history (a known name must not answer later than an unknown one)', async () => {
    const storage = memorySessionStorage();
    let pending = 0;
    // A history store whose failure writes never finish: the answer must not wait for them.
    Object.assign(storage.loginInfo, { recordFailure: () => (pending++, new Promise<void>(() => undefined)) });
    const { agent } = await start({ storage, ipLimit: false });
    const r = await login(agent(), 'alice', 'wrong');
    expect(r.status).toBe(401);
    expect(pending).toBe(1);
  });

  it('the stale-cookie 401 holds in any case of the path, as Express routes it', async () => {
    const { base } = await start();
    const r = await request(base).get('/REST/api/2/myself').set('Cookie', 'JSESSIONID=s%3Aunknown.sig');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('session_expired');
  });

  it.each([
    ['application/x-www-form-urlencoded', 'username=alice&password=wonderland'],
    ['text/plain', '{"username":"alice","password":"wonderland"}'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('refuses a %s login with 415 (no login CSRF through a form)', async (type, body) => {
    const { agent } = await start();
    const r = await agent().post('/rest/auth/1/session').set('Content-Type', type).send(body);
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('unsupported_media_type');
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it.each([['{"username":"alice"}'], ['{"username":"alice","password":"wonderland","admin":true}'], ['[1]'], ['{bad json']])('refuses the login body %s with 400', async (body) => {
    const { agent } = await start();
    const r = await agent().post('/rest/auth/1/session').set('Content-Type', 'application/json').send(body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_login_body');
  });

  it('a stale cookie under /rest gets 401 session_expired and is cleared; elsewhere it is anonymous; the resource stays reachable', async () => {
    const { agent, base } = await start();
    const a = agent();
    await login(a, 'alice', 'wonderland');
    const cookie = a.jar.getCookie('JSESSIONID', { domain: '127.0.0.1', path: '/', secure: false, script: false })!;
    await a.delete('/rest/auth/1/session');
    const send = (path: string) => request(base).get(path).set('Cookie', `JSESSIONID=${cookie.value}`);
    const r = await send('/rest/api/2/myself');
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ status: 401, code: 'session_expired', message: expect.stringMatching(/log in again/) });
    expect((r.headers['set-cookie'] as unknown as string[])[0]).toMatch(/^JSESSIONID=;.*Expires=Thu, 01 Jan 1970/);
    expect((await send('/public')).body).toEqual({ caller: null });
    expect((await send('/rest/auth/1/session')).body.error.code).toBe('not_logged_in');
    // Without a cookie, /rest is anonymous as before (the route answers).
    expect((await request(base).get('/rest/api/2/myself')).body).toEqual({ caller: null });
  });

  it('a token request is authenticated by the token alone: its stale cookie is ignored', async () => {
    const { base } = await start();
    const r = await request(base).get('/rest/api/2/myself').set('Cookie', 'JSESSIONID=s%3Aunknown.sig').set('Authorization', `Bearer ${aliceToken}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ caller: { user: 'alice', via: 'bearer' } });
  });

  it('ends a session at the absolute timeout however busy it is', async () => {
    const { agent } = await start({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 120_000 });
    const a = agent();
    await login(a, 'alice', 'wonderland');
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now');
    try {
      // Busy: a request every 50 s keeps it within the idle timeout…
      for (const at of [50_000, 100_000]) {
        clock.mockReturnValue(now + at);
        expect((await a.get('/rest/api/2/myself')).body.caller).toEqual({ user: 'alice', via: 'session' });
      }
      // …and still it ends 120 s after login, 25 s after its last request.
      clock.mockReturnValue(now + 125_000);
      const r = await a.get('/rest/api/2/myself');
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('session_expired');
    } finally {
      clock.mockRestore();
    }
  });

  it('checks passwords against hashes from findUser, an unknown user against a dummy hash', async () => {
    const hash = await hashPassword('s3cret-pass');
    const looked: string[] = [];
    const { agent } = await start({
      verifyPassword: undefined,
      ipLimit: false,
      findUser: async (name) => (looked.push(name), name === 'dora' ? { name: 'Dora', passwordHash: hash } : undefined),
    });
    const ok = await login(agent(), 'dora', 's3cret-pass');
    expect(ok.status).toBe(200);
    const a = agent();
    await login(a, 'dora', 's3cret-pass');
    expect((await a.get('/rest/auth/1/session')).body.name).toBe('Dora');
    const wrong = await login(agent(), 'dora', 'nope');
    const unknown = await login(agent(), 'nobody', 'nope');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(unknown.text).toBe(wrong.text);
    expect(looked).toEqual(['dora', 'dora', 'dora', 'nobody']);
  });

  it('keeps the login history under the account the password opened, whatever name found it', async () => {
    const hash = await hashPassword('s3cret-pass');
    const { agent } = await start({
      verifyPassword: undefined,
      ipLimit: false,
      findUser: async (name) => (name === 'dora@example.com' || name === 'dora' ? { name: 'Dora', passwordHash: hash } : undefined),
    });
    await login(agent(), 'dora@example.com', 's3cret-pass');
    const a = agent();
    await login(a, 'dora', 's3cret-pass');
    expect((await a.get('/rest/auth/1/session')).body).toMatchObject({ name: 'Dora', loginInfo: { loginCount: 2 } });
  });
});

test('memorySessionStorage takes no options', () => {
  expect(() => (memorySessionStorage as (...args: unknown[]) => unknown)({ ttl: 5 })).toThrow(/takes no options/);
});

describe('sessionRouter options', () => {
  const base = { storage: memorySessionStorage(), secret: SECRET, verifyPassword: () => false };
  it.each([
    [undefined, /needs an options object/],
    [{ ...base, store: {} }, /"store" is "storage" here/],
    [{ ...base, secret: 'short' }, /at least 32 characters/],
    [{ ...base, findUser: () => undefined }, /exactly one of options.verifyPassword/],
    [{ storage: base.storage, secret: SECRET }, /exactly one of options.verifyPassword/],
    [{ ...base, idleTimeoutMs: 10 }, /idleTimeoutMs must be an integer of milliseconds/],
    [{ ...base, maxFailedLogin: 3 }, /did you mean "maxFailedLogins"/],
    [{ ...base, ipLimit: { max: 5 } }, /"points" \(failed logins per window\)/],
    [{ ...base, secure: 'yes' }, /options.secure must be true, false or 'auto'/],
    [{ ...base, cookieName: 'a b' }, /options.cookieName/],
    [{ ...base, storage: {} }, /options.storage must be a session storage/],
    [{ ...base, ipLimit: { duration: 900 } }, /options.ipLimit.points is required/],
    [{ ...base, idleTimeoutMs: 7_200_000, absoluteTimeoutMs: 3_600_000 }, /idleTimeoutMs is longer than options.absoluteTimeoutMs/],
  ])('refuses %p with a TypeError that names the option', (options, message) => {
    expect(() => sessionRouter(options as never)).toThrow(TypeError);
    expect(() => sessionRouter(options as never)).toThrow(message);
  });
});
