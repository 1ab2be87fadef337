import pg from 'pg';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { postgresSessionStorage } from '../../../../src/http/session/postgres-storage.js';
import type { PgPool } from '../../../../src/tokens/postgres-store.js';
import { startPostgres, testPool, type TestPostgres } from '../../../support/postgres.js';
import { controlTime, getSession, sessionCount, sessionData, sessionStorageContract, setSession } from './storage-contract.js';

jest.setTimeout(60_000);

let server: TestPostgres;
let pool: pg.Pool;
let tables = 0;
const freshTable = () => `tf_sess_${process.pid}_${tables++}`;

beforeAll(async () => {
  server = await startPostgres();
  pool = testPool(server.url, 8);
});
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

sessionStorageContract('postgresSessionStorage', () => postgresSessionStorage(pool, { table: freshTable() }), { persistent: true });

const rowCount = async (table: string): Promise<number> => (await pool.query(`SELECT count(*)::integer AS n FROM ${table}`)).rows[0].n as number;

describe('postgresSessionStorage', () => {
  afterEach(() => jest.restoreAllMocks());

  test('two storages on one pool share sessions, counters and login history; tables are made once, under a lock', async () => {
    const table = freshTable();
    // Both start at once on a table that does not exist yet, and are used at once.
    const a = postgresSessionStorage(pool, { table });
    const b = postgresSessionStorage(pool, { table });
    const limitA = a.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 });
    const limitB = b.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 });
    await Promise.all([limitA.consume('alice'), limitB.consume('alice')]);
    await expect(limitA.consume('alice')).rejects.toBeInstanceOf(RateLimiterRes);
    await expect(b.limiter({ keyPrefix: 'login_ip', points: 2, duration: 60 }).consume('alice')).resolves.toMatchObject({ consumedPoints: 1 });

    await setSession(a.sessionStore, 'sid-1', sessionData(Date.now() + 60_000, { user: 'alice' }));
    expect(await getSession(b.sessionStore, 'sid-1')).toMatchObject({ user: 'alice' });
    await a.loginInfo.recordSuccess('alice', new Date(1_700_000_000_000));
    expect(await b.loginInfo.get('alice')).toMatchObject({ loginCount: 1, lastLoginTime: new Date(1_700_000_000_000) });
    await a.close();
    await b.close();

    expect((await pool.query(`SELECT version FROM ${table}_schema`)).rows).toEqual([{ version: 1 }]);
    // close() leaves the host's pool open, and a new storage on the table sees everything.
    const c = postgresSessionStorage(pool, { table });
    expect(await getSession(c.sessionStore, 'sid-1')).toMatchObject({ user: 'alice' });
    await expect(c.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 }).consume('alice')).rejects.toBeInstanceOf(RateLimiterRes);
    await c.close();
  });

  test('a first use that fails (database not reachable) is retried by the next', async () => {
    const table = freshTable();
    let refuse = true;
    const flaky: PgPool = {
      query: pool.query.bind(pool) as PgPool['query'],
      connect: () => (refuse ? Promise.reject(new Error('connect ECONNREFUSED')) : pool.connect()),
      end: async () => undefined,
    };
    const storage = postgresSessionStorage(flaky, { table });
    const limiter = storage.limiter({ keyPrefix: 'p', points: 2, duration: 60 });
    await expect(limiter.consume('k')).rejects.toThrow(/ECONNREFUSED/);
    await expect(getSession(storage.sessionStore, 's')).rejects.toThrow(/ECONNREFUSED/);
    refuse = false;
    await expect(limiter.consume('k')).resolves.toMatchObject({ consumedPoints: 1 });
    await setSession(storage.sessionStore, 's', sessionData(Date.now() + 60_000, { ok: true }));
    expect(await getSession(storage.sessionStore, 's')).toMatchObject({ ok: true });
    await storage.close();
  });

  test('refuses tables from a newer tokenfence', async () => {
    const table = freshTable();
    const first = postgresSessionStorage(pool, { table });
    expect(await sessionCount(first.sessionStore)).toBe(0);
    await first.close();
    await pool.query(`UPDATE ${table}_schema SET version = 99`);
    const storage = postgresSessionStorage(pool, { table });
    await expect(storage.limiter({ keyPrefix: 'p', points: 1, duration: 1 }).consume('k')).rejects.toThrow(/schema version 99, newer than this tokenfence knows/);
    await expect(getSession(storage.sessionStore, 's')).rejects.toThrow(/schema version 99/);
    await storage.close();
  });

  test('the purge timer deletes expired sessions and counters; its failures go to onError; close() stops it', async () => {
    const table = freshTable();
    const storage = postgresSessionStorage(pool, { table, purgeIntervalMs: 20 });
    const clock = controlTime();
    await setSession(storage.sessionStore, 'old', sessionData(clock.now + 1_000));
    await setSession(storage.sessionStore, 'live', sessionData(clock.now + 3_600_000));
    await storage.limiter({ keyPrefix: 'p', points: 5, duration: 1 }).consume('k');
    await storage.limiter({ keyPrefix: 'forever', points: 5, duration: 0 }).consume('k');
    clock.advance(5_000);
    for (let i = 0; i < 200 && ((await rowCount(table)) !== 1 || (await rowCount(`${table}_limits`)) !== 1); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await rowCount(table)).toBe(1);
    expect(await rowCount(`${table}_limits`)).toBe(1);
    await storage.close();

    const onError = jest.fn();
    const failing: PgPool = {
      query: (text, values) => (text.startsWith('DELETE') ? Promise.reject(new Error('permission denied')) : pool.query(text, values)),
      connect: () => pool.connect(),
      end: async () => undefined,
    };
    const broken = postgresSessionStorage(failing, { table, purgeIntervalMs: 20, onError });
    for (let i = 0; i < 200 && onError.mock.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'permission denied' }), 'postgresSessionStorage: purging expired sessions and counters failed');
    await broken.close();
    await new Promise((r) => setTimeout(r, 30)); // a purge under way when close() ran may still report
    const reported = onError.mock.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(onError.mock.calls.length).toBe(reported);
  });

  test('misuse is a TypeError that names the option', () => {
    const cases: [unknown, unknown, RegExp][] = [
      [{}, undefined, /needs a pg Pool/],
      [pool, null, /options must be an object/],
      [pool, { tableName: 'x' }, /postgresSessionStorage: unknown option "tableName"; did you mean "table"\?/],
      [pool, { pruneSessionInterval: 60 }, /did you mean "purgeIntervalMs" \(milliseconds, where connect-pg-simple counts seconds\)/],
      [pool, { errorLog: console.error }, /did you mean "onError"/],
      [pool, { createTableIfMissing: true }, /always created and migrated on first use/],
      [pool, { purgeIntervalMs: 'hourly' }, /options\.purgeIntervalMs must be a number of milliseconds/],
      [pool, { table: 'Sessions; drop table x' }, /options\.table must be a lower-case SQL identifier/],
      [pool, { defaultTtlMs: 60 }, /options\.defaultTtlMs must be a number of milliseconds from 1000/],
    ];
    for (const [p, options, message] of cases) {
      expect(() => postgresSessionStorage(p as never, options as never)).toThrow(TypeError);
      expect(() => postgresSessionStorage(p as never, options as never)).toThrow(message);
    }
    const storage = postgresSessionStorage(pool, { table: freshTable() });
    expect(() => storage.limiter({ keyPrefix: 'a:b', points: 2, duration: 60 })).toThrow(/postgresSessionStorage: limiter: keyPrefix must be/);
    return storage.close();
  });
});
