// sqliteSessionStorage: the embedded member of the session store family — sessions, login counters and login
// history in one better-sqlite3 file (WAL), beside or apart from the token store's tables.
import type Database from 'better-sqlite3';
import type { SessionData, Store } from 'express-session';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { checkFunction, checkKnownKeys, checkNumber } from '../../internal/options.js';
import { logErrorToConsole } from '../../internal/report.js';
import { enableWal, openDatabase } from '../../internal/sqlite.js';
import { checkLimiterOptions, checkStorageOptions, NO_LOGINS, sessionExpiry, touchStepMs, type LimiterOptions, type LoginInfo, type LoginInfoStore, type SessionStorage, type StorageOptions } from './storage.js';

const LIMITS_TABLE = 'tokenfence_session_limits';

/** Options of {@link sqliteSessionStorage}. */
export interface SqliteSessionStorageOptions extends StorageOptions {
  /** How long a write waits for another connection's lock, in ms. @default 5000 */
  busyTimeoutMs?: number | undefined;
}

/** What users of other session stores write, and what it is here. */
const OPTION_HINTS: Readonly<Record<string, string>> = {
  ttl: 'did you mean "defaultTtlMs" (milliseconds, for cookies without an expiry)?',
  timeout: 'did you mean "busyTimeoutMs" (milliseconds)?',
  checkPeriod: 'did you mean "purgeIntervalMs" (milliseconds)?',
  pruneSessionInterval: 'did you mean "purgeIntervalMs" (milliseconds)?',
  table: 'the SQLite tables have fixed names (tokenfence_sessions, …); use another file to keep two storages apart',
  tableName: 'the SQLite tables have fixed names (tokenfence_sessions, …); use another file to keep two storages apart',
};

/**
 * Schema migrations, applied in order; the count that ran is kept in `tokenfence_session_schema`, not in
 * `PRAGMA user_version`, which belongs to the token store when both share a file. Append, never edit.
 * `tokenfence_session_limits` has the columns and order RateLimiterSQLite reads and writes.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tokenfence_sessions (
     sid     TEXT PRIMARY KEY,
     data    TEXT NOT NULL,
     expires INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX tokenfence_sessions_expires ON tokenfence_sessions (expires);
   CREATE TABLE tokenfence_session_limits (
     key    TEXT PRIMARY KEY,
     points INTEGER NOT NULL DEFAULT 0,
     expire INTEGER
   ) STRICT;
   CREATE INDEX tokenfence_session_limits_expire ON tokenfence_session_limits (expire);
   CREATE TABLE tokenfence_login_info (
     user_name              TEXT PRIMARY KEY,
     login_count            INTEGER NOT NULL DEFAULT 0,
     failed_login_count     INTEGER NOT NULL DEFAULT 0,
     last_failed_login_time INTEGER,
     previous_login_time    INTEGER,
     last_login_time        INTEGER
   ) STRICT;`,
];


type Callback<T> = ((err: unknown, value?: T) => void) | undefined;

interface LoginRow {
  login_count: number;
  failed_login_count: number;
  last_failed_login_time: number | null;
  previous_login_time: number | null;
  last_login_time: number | null;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function loginInfoFrom(row: LoginRow | undefined): LoginInfo {
  if (row === undefined) return NO_LOGINS;
  return {
    loginCount: row.login_count,
    failedLoginCount: row.failed_login_count,
    lastFailedLoginTime: date(row.last_failed_login_time),
    previousLoginTime: date(row.previous_login_time),
    lastLoginTime: date(row.last_login_time),
  };
}

/**
 * Sessions, login counters and login history in one SQLite file. Writes are committed with
 * `synchronous = FULL` before a callback runs, so an acknowledged session or count survives a crash and a
 * restart; several processes may share the file (WAL, busy timeout). The tables are named `tokenfence_*`
 * and versioned apart from the token store's, so `SqliteTokenStore` may use the same file.
 *
 * @param filePath the database file (created when missing); `":memory:"` for a throwaway one
 * @example
 * const storage = sqliteSessionStorage('./data/sessions.db');
 * app.use(session({ store: storage.sessionStore, secret, resave: false, saveUninitialized: false }));
 */
export function sqliteSessionStorage(filePath: string, options: SqliteSessionStorageOptions = {}): SessionStorage {
  if (typeof filePath !== 'string' || filePath === '') {
    throw new TypeError('sqliteSessionStorage(filePath) needs the path of the database file (":memory:" for a throwaway one)');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('sqliteSessionStorage(filePath, options): options must be an object such as { purgeIntervalMs: 900000 }');
  checkKnownKeys('sqliteSessionStorage', options, ['busyTimeoutMs', 'purgeIntervalMs', 'defaultTtlMs', 'onError'], OPTION_HINTS);
  checkNumber('options.busyTimeoutMs', options.busyTimeoutMs, { min: 0, max: 2 ** 31 - 1, unit: 'milliseconds' });
  checkStorageOptions(options);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const purgeIntervalMs = options.purgeIntervalMs ?? 15 * 60_000;
  const defaultTtlMs = options.defaultTtlMs ?? 86_400_000;
  const onError = options.onError ?? logErrorToConsole;

  const session = require('express-session') as typeof import('express-session');
  const { RateLimiterSQLite } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');
  const db = openDatabase(filePath, { timeout: busyTimeoutMs }, { name: 'sqliteSessionStorage', alternatives: 'memorySessionStorage or postgresSessionStorage' });
  try {
    enableWal(db, busyTimeoutMs);
    db.pragma('synchronous = FULL');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }

  const sql = {
    get: db.prepare<[string, number], { data: string }>('SELECT data FROM tokenfence_sessions WHERE sid = ? AND expires > ?'),
    set: db.prepare<[string, string, number]>('INSERT INTO tokenfence_sessions (sid, data, expires) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires = excluded.expires'),
    // As express-session's MemoryStore: a touch renews a live session's expiry and its stored cookie.
    // Only when it moves the expiry by more than a step (touchStepMs): no write for most requests of a busy session.
    touch: db.prepare<[number, string, string, number, number]>("UPDATE tokenfence_sessions SET expires = ?, data = json_set(data, '$.cookie', json(?)) WHERE sid = ? AND expires > ? AND expires < ?"),
    destroy: db.prepare<[string]>('DELETE FROM tokenfence_sessions WHERE sid = ?'),
    all: db.prepare<[number], { sid: string; data: string }>('SELECT sid, data FROM tokenfence_sessions WHERE expires > ?'),
    length: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM tokenfence_sessions WHERE expires > ?'),
    clear: db.prepare('DELETE FROM tokenfence_sessions'),
    purgeSessions: db.prepare<[number]>('DELETE FROM tokenfence_sessions WHERE expires <= ?'),
    // A row past its expiry counts as absent to RateLimiterSQLite already; NULL means "never expires".
    purgeLimits: db.prepare<[number]>(`DELETE FROM ${LIMITS_TABLE} WHERE expire IS NOT NULL AND expire <= ?`),
    login: db.prepare<[string], LoginRow>('SELECT * FROM tokenfence_login_info WHERE user_name = ?'),
    // SET expressions read the row as it was: previous_login_time takes the old last_login_time.
    success: db.prepare<[string, number], LoginRow>(
      `INSERT INTO tokenfence_login_info (user_name, login_count, last_login_time) VALUES (?, 1, ?)
       ON CONFLICT (user_name) DO UPDATE SET login_count = login_count + 1, previous_login_time = last_login_time, last_login_time = excluded.last_login_time
       RETURNING *`,
    ),
    failure: db.prepare<[number, string]>('UPDATE tokenfence_login_info SET failed_login_count = failed_login_count + 1, last_failed_login_time = ? WHERE user_name = ?'),
  };
  const purge = db.transaction((now: number) => {
    sql.purgeSessions.run(now);
    sql.purgeLimits.run(now);
  });

  /** Runs `work` now (better-sqlite3 is synchronous) and answers later, as express-session's MemoryStore does. */
  const answer = <T>(callback: Callback<T>, context: string, work: () => T): void => {
    let value: T;
    try {
      value = work();
    } catch (err) {
      if (typeof callback === 'function') setImmediate(callback, err);
      else onError(err, context);
      return;
    }
    if (typeof callback === 'function') setImmediate(callback, null, value);
  };

  /** A stored session, or undefined when its text is not JSON (the row is then deleted: it can never load). */
  const parse = (sid: string, data: string): SessionData | undefined => {
    try {
      return JSON.parse(data) as SessionData;
    } catch {
      // The parser's message may quote the data: it is not passed on.
      sql.destroy.run(sid);
      return undefined;
    }
  };

  class SqliteSessionStore extends session.Store {
    override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
      answer(callback, 'session store get', () => {
        const row = sql.get.get(sid, Date.now());
        return (row && parse(sid, row.data)) ?? null;
      });
    }

    override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
      answer(callback, 'session store set', () => void sql.set.run(sid, JSON.stringify(sess), sessionExpiry(sess, Date.now(), defaultTtlMs)));
    }

    override touch(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
      answer(callback, 'session store touch', () => {
        const now = Date.now();
        const expires = sessionExpiry(sess, now, defaultTtlMs);
        sql.touch.run(expires, JSON.stringify(sess.cookie ?? null), sid, now, expires - touchStepMs(expires - now));
      });
    }

    override destroy(sid: string, callback?: (err?: unknown) => void): void {
      answer(callback, 'session store destroy', () => void sql.destroy.run(sid));
    }

    /** Every live session, by session id (as express-session's MemoryStore answers). */
    override all(callback: (err: unknown, sessions?: Record<string, SessionData> | null) => void): void {
      answer(callback, 'session store all', () => {
        const sessions: Record<string, SessionData> = Object.create(null) as Record<string, SessionData>;
        for (const row of sql.all.all(Date.now())) {
          const parsed = parse(row.sid, row.data);
          if (parsed !== undefined) sessions[row.sid] = parsed;
        }
        return sessions;
      });
    }

    override length(callback: (err: unknown, length?: number) => void): void {
      answer(callback, 'session store length', () => sql.length.get(Date.now())!.n);
    }

    override clear(callback?: (err?: unknown) => void): void {
      answer(callback, 'session store clear', () => void sql.clear.run());
    }
  }

  const loginInfo: LoginInfoStore = {
    get: async (user) => loginInfoFrom(sql.login.get(user)),
    recordSuccess: async (user, at) => loginInfoFrom(sql.success.get(user, at.getTime())),
    recordFailure: async (user, at) => void sql.failure.run(at.getTime(), user),
  };

  const runPurge = (): void => {
    if (!db.open) return;
    try {
      purge(Date.now());
    } catch (err) {
      onError(err, 'sqliteSessionStorage: purging expired sessions and counters failed');
    }
  };
  const timer = setInterval(runPurge, purgeIntervalMs);
  timer.unref();

  return {
    sessionStore: new SqliteSessionStore() as Store,
    loginInfo,
    limiter(limiterOptions: LimiterOptions): RateLimiterAbstract {
      checkLimiterOptions('sqliteSessionStorage: limiter', limiterOptions);
      // The table exists (a migration made it), so `tableCreated` skips the limiter's own asynchronous
      // CREATE TABLE, before which a consume would fail; expired rows go with the storage's purge.
      return new RateLimiterSQLite({
        storeClient: db,
        storeType: 'better-sqlite3',
        tableName: LIMITS_TABLE,
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix: limiterOptions.keyPrefix,
        points: limiterOptions.points,
        duration: limiterOptions.duration,
      });
    },
    close: async () => {
      clearInterval(timer);
      runPurge();
      if (db.open) db.close();
    },
  };
}

/**
 * Creates or upgrades the tables. The version is read inside the write lock (BEGIN IMMEDIATE): processes
 * opening one file at once migrate one after the other, and each sees what the one before it did.
 */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS tokenfence_session_schema (version INTEGER NOT NULL) STRICT');
    const row = db.prepare<[], { version: number }>('SELECT version FROM tokenfence_session_schema').get();
    const version = row?.version ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`the session tables have schema version ${version}, newer than this tokenfence knows (${MIGRATIONS.length}); upgrade tokenfence`);
    }
    if (version === MIGRATIONS.length) return;
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    if (row === undefined) db.prepare('INSERT INTO tokenfence_session_schema (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE tokenfence_session_schema SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}
