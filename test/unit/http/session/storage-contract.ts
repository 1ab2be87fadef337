// The contract every member of the session store family keeps (memory, SQLite, PostgreSQL): the express-session
// store as express-session documents it, the limiters, and the login history.
import type { SessionData, Store } from 'express-session';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { NO_LOGINS, type SessionStorage } from '../../../../src/http/session/storage.js';

/** A store call as a promise. */
export const call = <T = void>(run: (callback: (err: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));

export const getSession = (store: Store, sid: string) => call<SessionData | null>((cb) => store.get(sid, cb));
export const setSession = (store: Store, sid: string, sess: object) => call((cb) => store.set(sid, sess as SessionData, cb));
export const touchSession = (store: Store, sid: string, sess: object) => call((cb) => store.touch!(sid, sess as SessionData, cb as () => void));
export const destroySession = (store: Store, sid: string) => call((cb) => store.destroy(sid, cb));
export const allSessions = (store: Store) => call<Record<string, SessionData>>((cb) => store.all!(cb as never));
export const sessionCount = (store: Store) => call<number>((cb) => store.length!(cb));
export const clearSessions = (store: Store) => call((cb) => store.clear!(cb));

/** A session as express-session saves it (its Cookie serialises to these fields), expiring at `expiresAt` ms. */
export function sessionData(expiresAt: number | null, extra: object = {}): object {
  return {
    cookie: { originalMaxAge: expiresAt === null ? null : 60_000, expires: expiresAt === null ? null : new Date(expiresAt).toISOString(), httpOnly: true, path: '/', sameSite: 'lax' },
    ...extra,
  };
}

/** What `get` answers for a missing session: null or undefined, as express-session allows. */
const missing = (value: unknown) => expect(value ?? null).toBeNull();

/** Date.now under the test's control, starting from the real now. */
export function controlTime(): { now: number; advance(ms: number): void } {
  const clock = { now: Date.now(), advance: (ms: number) => void (clock.now += ms) };
  jest.spyOn(Date, 'now').mockImplementation(() => clock.now);
  return clock;
}

export interface ContractOptions {
  /** Whether the member keeps counters and sessions in a database (window expiry, TTL of cookie-less sessions, atomic counts). */
  persistent: boolean;
}

export function sessionStorageContract(name: string, make: () => SessionStorage, { persistent }: ContractOptions): void {
  describe(`${name} keeps the session storage contract`, () => {
    const opened: SessionStorage[] = [];
    const open = (): SessionStorage => {
      const storage = make();
      opened.push(storage);
      return storage;
    };
    afterEach(async () => {
      jest.restoreAllMocks();
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    test('set, get, touch and destroy round-trip a session as JSON', async () => {
      const { sessionStore: store } = open();
      const sess = sessionData(Date.now() + 60_000, { user: 'alice', roles: ['admin'], nested: { n: 1, s: 'ü "quoted"' } });
      await setSession(store, 'sid-1', sess);
      expect(await getSession(store, 'sid-1')).toEqual(JSON.parse(JSON.stringify(sess)));
      missing(await getSession(store, 'sid-unknown'));

      await setSession(store, 'sid-1', sessionData(Date.now() + 60_000, { user: 'bob' }));
      expect(await getSession(store, 'sid-1')).toMatchObject({ user: 'bob' });

      await destroySession(store, 'sid-1');
      missing(await getSession(store, 'sid-1'));
      await destroySession(store, 'sid-1');
    });

    test('an expired session is not returned, and a touch keeps a live one alive but never revives an expired one', async () => {
      const { sessionStore: store } = open();
      const clock = controlTime();
      const t0 = clock.now;
      await setSession(store, 'short', sessionData(t0 + 10_000, { user: 'a' }));
      await setSession(store, 'touched', sessionData(t0 + 60_000, { user: 'b' }));
      expect(await getSession(store, 'short')).toMatchObject({ user: 'a' });

      clock.advance(30_000);
      missing(await getSession(store, 'short'));
      await touchSession(store, 'short', sessionData(clock.now + 3_600_000));
      missing(await getSession(store, 'short'));
      await touchSession(store, 'touched', sessionData(clock.now + 120_000));

      clock.advance(60_000); // past the first expiry of 'touched', within the one its touch set
      const touched = await getSession(store, 'touched');
      expect(touched).toMatchObject({ user: 'b' });
      expect(new Date(touched!.cookie.expires as unknown as string).getTime()).toBe(t0 + 150_000);
    });

    test('all and length count live sessions only; clear deletes every session', async () => {
      const { sessionStore: store } = open();
      const clock = controlTime();
      await setSession(store, 'a', sessionData(clock.now + 60_000, { n: 1 }));
      await setSession(store, 'b', sessionData(clock.now + 60_000, { n: 2 }));
      await setSession(store, 'gone', sessionData(clock.now + 5_000, { n: 3 }));
      expect(await sessionCount(store)).toBe(3);
      clock.advance(10_000);
      expect(await sessionCount(store)).toBe(2);
      const all = await allSessions(store);
      expect(Object.keys(all!).sort()).toEqual(['a', 'b']);
      expect(all!['b']).toMatchObject({ n: 2 });
      await clearSessions(store);
      expect(await sessionCount(store)).toBe(0);
      expect(await allSessions(store)).toEqual({});
      missing(await getSession(store, 'a'));
    });

    test('a limiter allows `points` consumptions of a key per window, then rejects with a RateLimiterRes; keys and prefixes are independent', async () => {
      const storage = open();
      // Used at once after the storage is built: a member that creates tables must be ready for this.
      const perAccount = storage.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 });
      await expect(perAccount.consume('alice')).resolves.toMatchObject({ consumedPoints: 1, remainingPoints: 1 });
      await expect(perAccount.consume('alice')).resolves.toMatchObject({ consumedPoints: 2, remainingPoints: 0 });
      const third = await perAccount.consume('alice').catch((rejection: unknown) => rejection);
      expect(third).toBeInstanceOf(RateLimiterRes);
      expect(third).toMatchObject({ remainingPoints: 0 });
      expect((third as RateLimiterRes).msBeforeNext).toBeGreaterThan(55_000);
      expect((third as RateLimiterRes).msBeforeNext).toBeLessThanOrEqual(60_000);

      await expect(perAccount.consume('bob')).resolves.toMatchObject({ consumedPoints: 1 });
      const perIp = storage.limiter({ keyPrefix: 'login_ip', points: 2, duration: 60 });
      await expect(perIp.consume('alice')).resolves.toMatchObject({ consumedPoints: 1 });

      // A success resets an account's counter.
      expect(await perAccount.get('alice')).toMatchObject({ consumedPoints: 3 });
      expect(await perAccount.delete('alice')).toBe(true);
      expect(await perAccount.get('alice')).toBeNull();
      await expect(perAccount.consume('alice')).resolves.toMatchObject({ consumedPoints: 1 });
    });

    test('login history: failures and successes per account', async () => {
      const { loginInfo } = open();
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
      expect(await loginInfo.get('alice')).toEqual(NO_LOGINS);
      expect(await loginInfo.recordSuccess('alice', at(1))).toEqual({ loginCount: 1, failedLoginCount: 0, lastFailedLoginTime: null, previousLoginTime: null, lastLoginTime: at(1) });
      await loginInfo.recordFailure('alice', at(2));
      await loginInfo.recordFailure('alice', at(3));
      const second = await loginInfo.recordSuccess('alice', at(4));
      expect(second).toEqual({ loginCount: 2, failedLoginCount: 2, lastFailedLoginTime: at(3), previousLoginTime: at(1), lastLoginTime: at(4) });
      expect(await loginInfo.get('alice')).toEqual(second);
      expect(await loginInfo.get('bob')).toEqual(NO_LOGINS);
    });

    test('failed logins of a name that never logged in leave no history (made-up names cannot grow the table)', async () => {
      const { loginInfo } = open();
      for (let i = 0; i < 5; i++) await loginInfo.recordFailure(`made-up-${i}`, new Date());
      expect(await loginInfo.get('made-up-0')).toEqual(NO_LOGINS);
      expect(await loginInfo.recordSuccess('made-up-1', new Date(Date.UTC(2026, 0, 1)))).toMatchObject({ loginCount: 1, failedLoginCount: 0 });
    });

    if (!persistent) return;

    // The database members skip writes that move an expiry by little (express-session's MemoryStore always writes).
    test('a touch within a step of the stored expiry writes nothing; one beyond it renews the expiry', async () => {
      const { sessionStore } = open();
      const now = Date.now();
      await setSession(sessionStore, 'sid-step', sessionData(now + 1_800_000, { user: 'alice' }));
      // 30 minutes to go: the step is 18 s. A touch 5 s later is within it.
      await touchSession(sessionStore, 'sid-step', sessionData(now + 1_805_000, { user: 'alice' }));
      expect(new Date((await getSession(sessionStore, 'sid-step'))!.cookie.expires as unknown as string).getTime()).toBe(now + 1_800_000);
      await touchSession(sessionStore, 'sid-step', sessionData(now + 1_830_000, { user: 'alice' }));
      expect(new Date((await getSession(sessionStore, 'sid-step'))!.cookie.expires as unknown as string).getTime()).toBe(now + 1_830_000);
    });


    test('a counter window ends after `duration` seconds', async () => {
      const storage = open();
      const clock = controlTime();
      const limiter = storage.limiter({ keyPrefix: 'w', points: 1, duration: 60 });
      await limiter.consume('k');
      await expect(limiter.consume('k')).rejects.toBeInstanceOf(RateLimiterRes);
      clock.advance(61_000);
      await expect(limiter.consume('k')).resolves.toMatchObject({ consumedPoints: 1 });
    });

    test('a session whose cookie has no expiry is kept for defaultTtlMs (1 day) from its last save or touch', async () => {
      const { sessionStore: store } = open();
      const clock = controlTime();
      await setSession(store, 'browser', sessionData(null, { user: 'a' }));
      clock.advance(20 * 3_600_000);
      await touchSession(store, 'browser', sessionData(null));
      clock.advance(20 * 3_600_000);
      expect(await getSession(store, 'browser')).toMatchObject({ user: 'a' });
      clock.advance(5 * 3_600_000);
      missing(await getSession(store, 'browser'));
    });

    test('concurrent counts are not lost', async () => {
      const { loginInfo, limiter } = open();
      await Promise.all(Array.from({ length: 25 }, (_, i) => loginInfo.recordSuccess('alice', new Date(1_700_000_000_000 + i))));
      expect(await loginInfo.get('alice')).toMatchObject({ loginCount: 25 });
      const counter = limiter({ keyPrefix: 'c', points: 100, duration: 60 });
      await Promise.all(Array.from({ length: 25 }, () => counter.consume('k')));
      expect(await counter.get('k')).toMatchObject({ consumedPoints: 25 });
    });
  });
}
