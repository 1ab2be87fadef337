import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { sqliteSessionStorage } from '../../../../src/http/session/sqlite-storage.js';
import { SqliteTokenStore } from '../../../../src/tokens/sqlite-store.js';
import { controlTime, getSession, sessionData, sessionStorageContract, setSession } from './storage-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-session-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(dir, `sessions-${files++}.db`);

sessionStorageContract('sqliteSessionStorage', () => sqliteSessionStorage(freshFile()), { persistent: true });

/** Rows of a table, read through a connection of the test's own. */
function count(file: string, table: string): number {
  const raw = new Database(file, { readonly: true });
  try {
    return (raw.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

const until = async (condition: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('sqliteSessionStorage', () => {
  afterEach(() => jest.restoreAllMocks());

  test('sessions, counters and login history survive closing and reopening the file (WAL)', async () => {
    const file = freshFile();
    const first = sqliteSessionStorage(file);
    await setSession(first.sessionStore, 'sid-1', sessionData(Date.now() + 60_000, { user: 'alice' }));
    await first.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 }).consume('alice');
    await first.loginInfo.recordSuccess('alice', new Date(1_699_000_000_000));
    await first.loginInfo.recordFailure('alice', new Date(1_700_000_000_000));
    await first.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();

    const second = sqliteSessionStorage(file);
    try {
      expect(await getSession(second.sessionStore, 'sid-1')).toMatchObject({ user: 'alice' });
      const limiter = second.limiter({ keyPrefix: 'login_account', points: 2, duration: 60 });
      await expect(limiter.consume('alice')).resolves.toMatchObject({ consumedPoints: 2 });
      await expect(limiter.consume('alice')).rejects.toBeInstanceOf(RateLimiterRes);
      expect(await second.loginInfo.get('alice')).toMatchObject({ failedLoginCount: 1, lastFailedLoginTime: new Date(1_700_000_000_000) });
    } finally {
      await second.close();
    }
  });

  test('shares a file with SqliteTokenStore: separate tables and schema versions', async () => {
    const file = freshFile();
    const tokens = new SqliteTokenStore(file);
    const storage = sqliteSessionStorage(file);
    await setSession(storage.sessionStore, 's', sessionData(Date.now() + 60_000));
    tokens.close();
    await storage.close();
    const reopenedTokens = new SqliteTokenStore(file);
    expect(reopenedTokens.schemaVersion).toBe(1);
    reopenedTokens.close();
    const reopened = sqliteSessionStorage(file);
    expect(await getSession(reopened.sessionStore, 's')).toBeTruthy();
    await reopened.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare('SELECT version FROM tokenfence_session_schema').all()).toEqual([{ version: 1 }]);
    raw.close();
  });

  test('refuses session tables from a newer tokenfence, and leaves no file open', () => {
    const file = freshFile();
    sqliteSessionStorage(file).close();
    const raw = new Database(file);
    raw.prepare('UPDATE tokenfence_session_schema SET version = 99').run();
    raw.close();
    const handles = () => (process.platform === 'linux' ? readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === file; } catch { return false; } }).length : 0);
    const before = handles();
    expect(() => sqliteSessionStorage(file)).toThrow(/schema version 99, newer than this tokenfence knows/);
    expect(handles()).toBe(before);
  });

  test('expired sessions and counters are purged by the timer, and on close', async () => {
    const file = freshFile();
    const storage = sqliteSessionStorage(file, { purgeIntervalMs: 20 });
    const clock = controlTime();
    await setSession(storage.sessionStore, 'old', sessionData(clock.now + 1_000));
    await setSession(storage.sessionStore, 'live', sessionData(clock.now + 3_600_000));
    await storage.limiter({ keyPrefix: 'p', points: 5, duration: 1 }).consume('k');
    await storage.limiter({ keyPrefix: 'forever', points: 5, duration: 0 }).consume('k');
    clock.advance(2_000);
    await until(() => count(file, 'tokenfence_sessions') === 1 && count(file, 'tokenfence_session_limits') === 1);
    await storage.close();

    const another = sqliteSessionStorage(file, { purgeIntervalMs: 3_600_000 });
    await setSession(another.sessionStore, 'soon', sessionData(clock.now + 1_000));
    clock.advance(2_000);
    expect(count(file, 'tokenfence_sessions')).toBe(2);
    await another.close();
    expect(count(file, 'tokenfence_sessions')).toBe(1);
  });

  test('a row that is not JSON reads as no session and is deleted', async () => {
    const file = freshFile();
    const storage = sqliteSessionStorage(file);
    const raw = new Database(file);
    raw.prepare('INSERT INTO tokenfence_sessions (sid, data, expires) VALUES (?, ?, ?)').run('bad', '{not json', Date.now() + 60_000);
    raw.close();
    expect(await getSession(storage.sessionStore, 'bad')).toBeNull();
    expect(count(file, 'tokenfence_sessions')).toBe(0);
    await storage.close();
  });

  test('a failed call without a callback goes to onError, without the session id', async () => {
    const onError = jest.fn();
    const storage = sqliteSessionStorage(freshFile(), { onError });
    await storage.close();
    storage.sessionStore.set('sid-secret-123', sessionData(Date.now() + 60_000) as never);
    storage.sessionStore.destroy('sid-secret-123');
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError.mock.calls[0]![1]).toBe('session store set');
    expect(JSON.stringify(onError.mock.calls.map(([e, c]) => [String(e), c]))).not.toContain('sid-secret-123');
    // With a callback, the error goes there.
    await expect(getSession(storage.sessionStore, 'x')).rejects.toThrow(/not open/);
  });

  test('option mistakes throw a TypeError that names the option', () => {
    const file = freshFile();
    const cases: [unknown, unknown, RegExp][] = [
      ['', undefined, /needs the path of the database file/],
      [file, null, /options must be an object/],
      [file, { purgeInterval: 1000 }, /sqliteSessionStorage: unknown option "purgeInterval"; did you mean "purgeIntervalMs"\?/],
      [file, { ttl: 60 }, /unknown option "ttl"; did you mean "defaultTtlMs" \(milliseconds/],
      [file, { tableName: 'x' }, /fixed names/],
      [file, { busyTimeoutMs: '5s' }, /options\.busyTimeoutMs must be a number of milliseconds/],
      [file, { purgeIntervalMs: 0 }, /options\.purgeIntervalMs must be a number of milliseconds from 1/],
      [file, { defaultTtlMs: 10 }, /options\.defaultTtlMs must be a number of milliseconds from 1000/],
      [file, { onError: 'console' }, /options\.onError must be a function/],
    ];
    for (const [path, options, message] of cases) {
      expect(() => sqliteSessionStorage(path as string, options as never)).toThrow(TypeError);
      expect(() => sqliteSessionStorage(path as string, options as never)).toThrow(message);
    }
  });

  test('limiter option mistakes throw a TypeError', async () => {
    const storage = sqliteSessionStorage(freshFile());
    const cases: [unknown, RegExp][] = [
      [{ keyPrefix: 'a:b', points: 2, duration: 60 }, /keyPrefix must be 1 to 100 letters, digits, _ or -/],
      [{ keyPrefix: '', points: 2, duration: 60 }, /keyPrefix/],
      [{ keyPrefix: 'a', points: 0, duration: 60 }, /points must be an integer of consumptions per window from 1/],
      [{ keyPrefix: 'a', points: 2 }, /duration is required/],
      [{ keyPrefix: 'a', points: 2, duration: -1 }, /duration must be a number of seconds/],
      [{ keyPrefix: 'a', points: 2, windowMs: 60_000 }, /unknown option "windowMs"; did you mean "duration" \(seconds\)\?/],
      [null, /options must be an object/],
    ];
    for (const [options, message] of cases) {
      expect(() => storage.limiter(options as never)).toThrow(TypeError);
      expect(() => storage.limiter(options as never)).toThrow(message);
    }
    await storage.close();
  });
});
