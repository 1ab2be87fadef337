// Two app instances sharing one PostgreSQL (SPEC §8, issue 14): a session made on A works on B and a logout on B
// ends it on A; a lockout made on A is enforced on B without checking the password; login history is shared.
import pg from 'pg';
import request from 'supertest';
import type { Express } from 'express';
import { callerOf, postgresSessionStorage, sessionRouter, type SessionOptions, type SessionRouter, type SessionStorage } from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';
import { startPostgres, type TestPostgres } from '../../../support/postgres';

jest.setTimeout(90_000);

const SECRET = 'a-session-secret-of-at-least-32-characters';
const PASSWORDS: Record<string, string> = { alice: 'wonderland', bob: 'builder' };
const RESOURCE = '/rest/auth/1/session';

let server: TestPostgres;
// One pool per instance, as two processes would have.
let poolA: pg.Pool;
let poolB: pg.Pool;
let tables = 0;
const used: string[] = [];
const freshTable = (): string => {
  const table = `tf_shared_${process.pid}_${Date.now().toString(36)}_${tables++}`;
  used.push(table);
  return table;
};

beforeAll(async () => {
  server = await startPostgres();
  poolA = new pg.Pool({ connectionString: server.url, max: 4 });
  poolB = new pg.Pool({ connectionString: server.url, max: 4 });
  // When the server stops at the end, idle connections get "terminating connection": not a test failure.
  poolA.on('error', () => undefined);
  poolB.on('error', () => undefined);
});
afterAll(async () => {
  // The storage API has no drop; the tables are ours, so they go with plain SQL (TOKENFENCE_PG_URL may be a kept database).
  for (const t of used) await poolA?.query(`DROP TABLE IF EXISTS ${t}, ${t}_limits, ${t}_logins, ${t}_schema`).catch(() => undefined);
  await poolA?.end();
  await poolB?.end();
  await server?.stop();
});

interface Instance {
  readonly base: string;
  readonly sessions: SessionRouter;
  /** User names verifyPassword was called with on this instance. */
  readonly checked: string[];
}

describe.each(EXPRESS_FLAVOURS)('two app instances sharing one PostgreSQL on $name', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  const storages: SessionStorage[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(storages.splice(0).map((s) => s.close()));
  });

  /** One instance: its own pool, storage, sessionRouter and port, on the shared table. */
  async function instance(pool: pg.Pool, table: string, options: Partial<SessionOptions>): Promise<Instance> {
    const storage = postgresSessionStorage(pool, { table });
    storages.push(storage);
    const checked: string[] = [];
    const sessions = sessionRouter({
      storage,
      secret: SECRET,
      verifyPassword: (username: string, password: string) => {
        checked.push(username);
        return PASSWORDS[username] === password;
      },
      ...options,
    } as SessionOptions);
    const app: Express = flavour.create();
    app.use(sessions.middleware);
    app.use(RESOURCE, sessions);
    app.get('/rest/api/2/myself', (req, res) => res.json({ caller: callerOf(req) ?? null }));
    const s = await listen(app);
    servers.push(s);
    return { base: `http://127.0.0.1:${s.port}`, sessions, checked };
  }

  async function pair(options: Partial<SessionOptions> = {}): Promise<[Instance, Instance]> {
    const table = freshTable();
    return [await instance(poolA, table, options), await instance(poolB, table, options)];
  }

  const login = (base: string, username: string, password: string) =>
    request(base).post(RESOURCE).set('Content-Type', 'application/json').send(JSON.stringify({ username, password }));
  /** The `name=value` of the session cookie a login set. */
  const sessionCookie = (r: request.Response): string => {
    const line = ((r.headers['set-cookie'] ?? []) as unknown as string[]).find((c) => c.startsWith('JSESSIONID='));
    expect(line).toBeDefined();
    return line!.split(';', 1)[0]!;
  };

  it('a session made on A works on B, and a logout on B ends it on A', async () => {
    const [a, b] = await pair();
    expect(a.base).not.toBe(b.base);
    const r = await login(a.base, 'alice', 'wonderland');
    expect(r.status).toBe(200);
    const cookie = sessionCookie(r);

    const me = await request(b.base).get(RESOURCE).set('Cookie', cookie);
    expect(me.status).toBe(200);
    expect(me.headers['x-seraph-loginreason']).toBe('OK');
    expect(me.body).toMatchObject({ name: 'alice', loginInfo: { loginCount: 1, failedLoginCount: 0 } });
    const onB = await request(b.base).get('/rest/api/2/myself').set('Cookie', cookie);
    expect(onB.status).toBe(200);
    expect(onB.body).toEqual({ caller: { user: 'alice', via: 'session' } });
    expect((await request(a.base).get('/rest/api/2/myself').set('Cookie', cookie)).body).toEqual({ caller: { user: 'alice', via: 'session' } });

    const out = await request(b.base).delete(RESOURCE).set('Cookie', cookie);
    expect(out.status).toBe(204);
    expect(out.headers['x-seraph-loginreason']).toBe('OUT');

    const stale = await request(a.base).get('/rest/api/2/myself').set('Cookie', cookie);
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe('session_expired');
    const gone = await request(a.base).get(RESOURCE).set('Cookie', cookie);
    expect(gone.status).toBe(401);
    expect(gone.body.error.code).toBe('not_logged_in');
    expect(a.checked).toEqual(['alice']);
    expect(b.checked).toEqual([]);
  });

  it('a lockout made on A is enforced on B, which refuses without checking the password; a reset on B frees A', async () => {
    const [a, b] = await pair({ maxFailedLogins: 3, ipLimit: false });
    for (let i = 0; i < 3; i++) expect((await login(a.base, 'alice', `guess-${i}`)).status).toBe(401);
    expect(a.checked).toEqual(['alice', 'alice', 'alice']);

    const r = await login(b.base, 'alice', 'wonderland');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('captcha_required');
    expect(r.headers['x-seraph-loginreason']).toBe('AUTHENTICATION_DENIED');
    expect(r.headers['x-authentication-denied-reason']).toBe('CAPTCHA_CHALLENGE; login-url=/login');
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(b.checked).toEqual([]);
    // Another account is not affected, on either instance.
    expect((await login(b.base, 'bob', 'builder')).status).toBe(200);

    await b.sessions.resetFailedLogins('alice');
    expect((await login(a.base, 'alice', 'wonderland')).status).toBe(200);
  });

  it('failures spread over both instances add up to one count per account', async () => {
    const [a, b] = await pair({ maxFailedLogins: 3, ipLimit: false });
    expect((await login(a.base, 'bob', 'x')).status).toBe(401);
    expect((await login(b.base, 'BOB', 'y')).status).toBe(401);
    expect((await login(a.base, 'bob', 'z')).status).toBe(401);
    const checkedBefore = a.checked.length + b.checked.length;
    for (const inst of [a, b]) {
      const r = await login(inst.base, 'bob', 'builder');
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('captcha_required');
    }
    expect(a.checked.length + b.checked.length).toBe(checkedBefore);
  });

  it('the per-address limit is shared too', async () => {
    const [a, b] = await pair({ maxFailedLogins: 100, ipLimit: { points: 2, duration: 600 } });
    expect((await login(a.base, 'alice', 'x')).status).toBe(401);
    expect((await login(b.base, 'bob', 'x')).status).toBe(401);
    const r = await login(a.base, 'carol', 'x');
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('login_rate_limited');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('login history is shared: loginCount, previousLoginTime and failures recorded on the other instance', async () => {
    const [a, b] = await pair({ ipLimit: false });
    const before = Date.now();
    const first = await login(a.base, 'alice', 'wonderland');
    const after = Date.now();
    expect(first.status).toBe(200);
    expect(first.body.loginInfo).toEqual({ loginCount: 1, failedLoginCount: 0 });

    expect((await login(b.base, 'alice', 'nope')).status).toBe(401);
    const second = await login(b.base, 'alice', 'wonderland');
    expect(second.status).toBe(200);
    expect(second.body.loginInfo).toEqual({
      loginCount: 2,
      failedLoginCount: 1,
      lastFailedLoginTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      previousLoginTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // The previous login is the one made on A.
    const previous = Date.parse(second.body.loginInfo.previousLoginTime);
    expect(previous).toBeGreaterThanOrEqual(before - 1);
    expect(previous).toBeLessThanOrEqual(after + 1);

    // A's GET with B's cookie reads the same history.
    const me = await request(a.base).get(RESOURCE).set('Cookie', sessionCookie(second));
    expect(me.status).toBe(200);
    expect(me.body.loginInfo).toEqual(second.body.loginInfo);
  });
});
