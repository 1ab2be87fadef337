// Login protection through real HTTP on Express 4 and 5, with the memory and SQLite storages (SPEC §8, issue 14):
// the per-account lockout survives a cookie wipe, IP rotation (behind `trust proxy`) and, in SQLite, a restart;
// the per-address limit follows the forwarded address; the idle timeout makes the old cookie stale; the CAPTCHA
// flow works end to end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import type { SessionData } from 'express-session';
import {
  callerOf,
  memorySessionStorage,
  sessionRouter,
  sqliteSessionStorage,
  type SessionOptions,
  type SessionRouter,
  type SessionStorage,
} from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';

const SECRET = 'a-session-secret-of-at-least-32-characters';
const PASSWORDS: Record<string, string> = { alice: 'wonderland', bob: 'builder', carol: 'singer' };
const RESOURCE = '/rest/auth/1/session';

const dir = mkdtempSync(join(tmpdir(), 'tf-lockout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(dir, `sessions-${files++}.db`);

interface StorageKind {
  readonly name: 'memory' | 'sqlite';
  /** A new storage; for SQLite, on `file` when given (a restart), else on a new file. */
  readonly open: (file?: string) => { storage: SessionStorage; file?: string };
}
const STORAGES: readonly StorageKind[] = [
  { name: 'memory', open: () => ({ storage: memorySessionStorage() }) },
  {
    name: 'sqlite',
    open: (file = freshFile()) => ({ storage: sqliteSessionStorage(file), file }),
  },
];

/** Distinct documentation addresses (RFC 5737), one per attempt. */
const address = (i: number): string => `203.0.113.${i + 1}`;

describe.each(EXPRESS_FLAVOURS)('login protection on $name', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  const storages: SessionStorage[] = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(storages.splice(0).map((s) => s.close()));
  });

  interface App {
    readonly base: string;
    readonly sessions: SessionRouter;
    readonly storage: SessionStorage;
    readonly file: string | undefined;
    /** User names verifyPassword was called with. */
    readonly checked: string[];
    readonly server: TestServer;
  }

  /** An app behind a proxy (`trust proxy`), with a probe that shows what Express takes for the client's address. */
  async function start(kind: StorageKind, options: Partial<SessionOptions> = {}, file?: string): Promise<App> {
    const { storage, file: opened } = kind.open(file);
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
    app.set('trust proxy', true);
    app.use(sessions.middleware);
    app.use(RESOURCE, sessions);
    app.get('/rest/api/2/myself', (req, res) => res.json({ caller: callerOf(req) ?? null }));
    app.get('/probe', (req, res) => res.json({ ip: req.ip }));
    const server = await listen(app);
    servers.push(server);
    return { base: `http://127.0.0.1:${server.port}`, sessions, storage, file: opened, checked, server };
  }

  const login = (client: request.Agent | request.SuperTest<request.Test>, username: string, password: string, extra: { forwardedFor?: string; captcha?: string } = {}) => {
    const { forwardedFor, ...body } = extra;
    const test = client.post(RESOURCE).set('Content-Type', 'application/json');
    if (forwardedFor !== undefined) test.set('X-Forwarded-For', forwardedFor);
    return test.send(JSON.stringify({ username, password, ...body }));
  };

  const expectCaptchaRequired = (r: request.Response, loginUrl = '/login'): void => {
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('captcha_required');
    expect(r.headers['x-seraph-loginreason']).toBe('AUTHENTICATION_DENIED');
    expect(r.headers['x-authentication-denied-reason']).toBe(`CAPTCHA_CHALLENGE; login-url=${loginUrl}`);
    expect(r.headers['set-cookie']).toBeUndefined();
  };

  describe.each(STORAGES)('with $name storage', (kind: StorageKind) => {
    it('the trust-proxy probe sees each forwarded address as the client', async () => {
      const { base } = await start(kind);
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) seen.add((await request(base).get('/probe').set('X-Forwarded-For', address(i))).body.ip);
      expect([...seen]).toEqual([address(0), address(1), address(2)]);
      expect((await request(base).get('/probe')).body.ip).toMatch(/127\.0\.0\.1$/);
    });

    it('the lockout survives a cookie wipe and IP rotation: fresh clients from new addresses still lock the account', async () => {
      // One failure per address is allowed, so the per-address limit never fires: only the account count can lock.
      const { base, checked } = await start(kind, { maxFailedLogins: 3, ipLimit: { points: 1, duration: 600 } });
      // The attacker first holds a session of their own, then wipes it and every cookie between attempts.
      const attacker = request.agent(base);
      expect((await login(attacker, 'bob', 'builder', { forwardedFor: address(9) })).status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const client = i === 0 ? attacker : request(base); // a fresh client: no cookie at all
        const r = await login(client, i === 1 ? 'ALICE' : 'alice', `guess-${i}`, { forwardedFor: address(i) });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe('login_failed');
        // A failure gives a fresh client no cookie: there is nothing on the client to count with. (The attacker's
        // own live session is only rolled on, by express-session's rolling cookie.)
        if (i > 0) expect(r.headers['set-cookie']).toBeUndefined();
      }
      expect(checked).toEqual(['bob', 'alice', 'ALICE', 'alice']);
      checked.length = 0;
      // The right password, from yet another fresh client and address, is refused without being checked.
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland', { forwardedFor: address(3) }));
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland'));
      expect(checked).toEqual([]);
    });

    it('the per-address limit follows the forwarded address under trust proxy', async () => {
      const { base, checked } = await start(kind, { maxFailedLogins: 100, ipLimit: { points: 2, duration: 600 } });
      const spray = address(7);
      expect((await login(request(base), 'alice', 'x', { forwardedFor: spray })).status).toBe(401);
      expect((await login(request(base), 'bob', 'x', { forwardedFor: spray })).status).toBe(401);
      checked.length = 0;
      const limited = await login(request(base), 'carol', 'singer', { forwardedFor: spray });
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('login_rate_limited');
      expect(limited.headers['x-seraph-loginreason']).toBe('AUTHENTICATION_DENIED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(checked).toEqual([]);
      // Another forwarded address, and the proxy's own (socket) address, are not limited.
      expect((await login(request(base), 'carol', 'singer', { forwardedFor: address(8) })).status).toBe(200);
      expect((await login(request(base), 'carol', 'singer')).status).toBe(200);
      // The leftmost forwarded address is the client's, whatever proxies follow it.
      expect((await login(request(base), 'carol', 'singer', { forwardedFor: `${spray}, ${address(8)}` })).status).toBe(429);
    });

    it('resetFailedLogins clears the lockout', async () => {
      const { base, sessions, checked } = await start(kind, { maxFailedLogins: 2, ipLimit: false });
      for (let i = 0; i < 2; i++) expect((await login(request(base), 'alice', 'x', { forwardedFor: address(i) })).status).toBe(401);
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland'));
      await sessions.resetFailedLogins('Alice');
      checked.length = 0;
      expect((await login(request(base), 'alice', 'wonderland')).status).toBe(200);
      expect(checked).toEqual(['alice']);
    });

    it('the idle timeout ends a session: the store and the cookie expire, and the next /rest request gets 401 session_expired', async () => {
      const { base, storage } = await start(kind, { idleTimeoutMs: 60_000, ipLimit: false });
      const start0 = Date.now();
      const r = await login(request(base), 'alice', 'wonderland');
      expect(r.status).toBe(200);
      const setCookie = ((r.headers['set-cookie'] ?? []) as unknown as string[]).find((c) => c.startsWith('JSESSIONID='))!;
      const cookie = setCookie.split(';', 1)[0]!;
      const sid = r.body.session.value as string;
      // The browser drops the cookie after the idle timeout.
      const expires = Date.parse(/; Expires=([^;]+)/.exec(setCookie)![1]!);
      expect(expires).toBeGreaterThanOrEqual(start0 + 60_000 - 1_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 60_000);

      const clock = { now: Date.now() };
      jest.spyOn(Date, 'now').mockImplementation(() => clock.now);
      const myself = () => request(base).get('/rest/api/2/myself').set('Cookie', cookie);
      // Activity within the timeout keeps the session alive (rolling): 50 s, then 50 s more, is 100 s in all.
      for (let i = 0; i < 2; i++) {
        clock.now += 50_000;
        const live = await myself();
        expect(live.status).toBe(200);
        expect(live.body).toEqual({ caller: { user: 'alice', via: 'session' } });
      }
      const stored = await new Promise<SessionData | null | undefined>((resolve, reject) => storage.sessionStore.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
      expect(stored).toBeTruthy();

      // Then 61 s idle: the stored session is past its expiry, and the server refuses the old cookie.
      clock.now += 61_000;
      const gone = await new Promise<SessionData | null | undefined>((resolve, reject) => storage.sessionStore.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
      expect(gone ?? null).toBeNull();
      const stale = await myself();
      expect(stale.status).toBe(401);
      expect(stale.body.error.code).toBe('session_expired');
      expect(((stale.headers['set-cookie'] ?? []) as unknown as string[])[0]).toMatch(/^JSESSIONID=;.*Expires=Thu, 01 Jan 1970/);
      const me = await request(base).get(RESOURCE).set('Cookie', cookie);
      expect(me.status).toBe(401);
      expect(me.body.error.code).toBe('not_logged_in');
    });
  });

  describe('with sqlite storage', () => {
    const sqlite = STORAGES.find((k) => k.name === 'sqlite')!;

    it('the lockout survives a restart: a new sessionRouter and storage on the same file enforce it', async () => {
      const first = await start(sqlite, { maxFailedLogins: 3, ipLimit: false });
      for (let i = 0; i < 3; i++) expect((await login(request(first.base), 'alice', 'x', { forwardedFor: address(i) })).status).toBe(401);
      expectCaptchaRequired(await login(request(first.base), 'alice', 'wonderland'));
      // The restart: the server and the storage go, a new process opens the same file.
      await first.server.close();
      await first.storage.close();
      servers.splice(servers.indexOf(first.server), 1);
      storages.splice(storages.indexOf(first.storage), 1);

      const second = await start(sqlite, { maxFailedLogins: 3, ipLimit: false }, first.file);
      expect(second.file).toBe(first.file);
      expectCaptchaRequired(await login(request(second.base), 'alice', 'wonderland', { forwardedFor: address(5) }));
      expect(second.checked).toEqual([]);
      // Another account is not locked, and the new router's reset frees alice.
      expect((await login(request(second.base), 'bob', 'builder')).status).toBe(200);
      await second.sessions.resetFailedLogins('alice');
      expect((await login(request(second.base), 'alice', 'wonderland')).status).toBe(200);
    });

    it('the CAPTCHA flow end to end: lock, challenge, wrong answer, right answer and password, count reset', async () => {
      const answers: string[] = [];
      const loginUrl = '/secure/Dashboard.jspa';
      const { base, checked } = await start(sqlite, {
        maxFailedLogins: 2,
        ipLimit: false,
        loginUrl,
        verifyCaptcha: (answer: string) => (answers.push(answer), answer === 'right'),
      });
      for (let i = 0; i < 2; i++) expect((await login(request(base), 'alice', `guess-${i}`)).status).toBe(401);
      checked.length = 0;

      // Locked: the challenge, with or without a wrong answer; the password is not checked.
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland'), loginUrl);
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland', { captcha: 'wrong' }), loginUrl);
      expect(checked).toEqual([]);
      expect(answers).toEqual(['wrong']);

      // A right answer with a wrong password is a failure, and the account stays locked.
      const solvedWrong = await login(request(base), 'alice', 'still-guessing', { captcha: 'right' });
      expect(solvedWrong.status).toBe(401);
      expect(solvedWrong.body.error.code).toBe('login_failed');
      expectCaptchaRequired(await login(request(base), 'alice', 'wonderland'), loginUrl);

      // A right answer with the right password logs in, and the session works.
      checked.length = 0;
      const agent = request.agent(base);
      const ok = await login(agent, 'alice', 'wonderland', { captcha: 'right' });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-seraph-loginreason']).toBe('OK');
      expect(checked).toEqual(['alice']);
      expect((await agent.get('/rest/api/2/myself')).body).toEqual({ caller: { user: 'alice', via: 'session' } });

      // The count was reset: one new failure does not lock, and the password is checked again without a CAPTCHA.
      expect((await login(request(base), 'alice', 'nope')).status).toBe(401);
      const again = await login(request(base), 'alice', 'wonderland');
      expect(again.status).toBe(200);
      expect(answers).toEqual(['wrong', 'right', 'right']);
    });
  });
});
