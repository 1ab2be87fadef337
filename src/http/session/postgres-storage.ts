// postgresSessionStorage: the shared member of the session store family — sessions (connect-pg-simple), login
// counters (RateLimiterPostgres) and login history in PostgreSQL, through the host's pg Pool.
import type { SessionData, Store } from 'express-session';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { checkKnownKeys } from '../../internal/options.js';
import { logErrorToConsole } from '../../internal/report.js';
import type { PgPool } from '../../tokens/postgres-store.js';
import { checkLimiterOptions, checkStorageOptions, NO_LOGINS, sessionExpiry, touchStepMs, type LimiterOptions, type LoginInfo, type LoginInfoStore, type SessionStorage, type StorageOptions } from './storage.js';
import { migratePostgres } from '../../internal/postgres.js';

/** Options of {@link postgresSessionStorage}. */
export interface PostgresSessionStorageOptions extends StorageOptions {
  /**
   * The sessions table (a lower-case SQL identifier); counters go to `<table>_limits`, login history to
   * `<table>_logins`, and the migrations that ran are recorded in `<table>_schema`. All are created on first
   * use.
   * @default 'tokenfence_sessions'
   */
  table?: string | undefined;
}

/** What a connect-pg-simple or rate-limiter-flexible user writes, and what it is here. */
const OPTION_HINTS: Readonly<Record<string, string>> = {
  tableName: 'did you mean "table"?',
  schemaName: 'put the schema in the pool\'s search_path (options: "-c search_path=…")',
  ttl: 'did you mean "defaultTtlMs" (milliseconds, for cookies without an expiry)?',
  pruneSessionInterval: 'did you mean "purgeIntervalMs" (milliseconds, where connect-pg-simple counts seconds)?',
  errorLog: 'did you mean "onError" (error, context)?',
  createTableIfMissing: 'the tables are always created and migrated on first use',
  pool: 'give the pool as the first argument: postgresSessionStorage(pool, options)',
  conString: 'give a pg Pool as the first argument: postgresSessionStorage(new pg.Pool({ connectionString }))',
};

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,50}$/;

/**
 * Migrations, in order; append, never edit. `%t` is the table name. The sessions table has the columns
 * connect-pg-simple queries (with `timestamptz`, so instances in different time zones agree); `%t_limits`
 * has the columns, in the order, that RateLimiterPostgres inserts (with a `text` key, where its own table
 * would cap keys at 255 characters).
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE %t (
     sid    varchar PRIMARY KEY,
     sess   json NOT NULL,
     expire timestamptz(6) NOT NULL
   );
   CREATE INDEX %t_expire ON %t (expire);
   CREATE TABLE %t_limits (
     key    text PRIMARY KEY,
     points integer NOT NULL DEFAULT 0,
     expire bigint
   );
   CREATE INDEX %t_limits_expire ON %t_limits (expire);
   CREATE TABLE %t_logins (
     user_name              text PRIMARY KEY,
     login_count            integer NOT NULL DEFAULT 0,
     failed_login_count     integer NOT NULL DEFAULT 0,
     last_failed_login_time timestamptz,
     previous_login_time    timestamptz,
     last_login_time        timestamptz
   );`,
];

interface LoginRow {
  login_count: number;
  failed_login_count: number;
  last_failed_login_time: Date | null;
  previous_login_time: Date | null;
  last_login_time: Date | null;
}

function loginInfoFrom(row: LoginRow | undefined): LoginInfo {
  if (row === undefined) return NO_LOGINS;
  return {
    loginCount: row.login_count,
    failedLoginCount: row.failed_login_count,
    lastFailedLoginTime: row.last_failed_login_time,
    previousLoginTime: row.previous_login_time,
    lastLoginTime: row.last_login_time,
  };
}

/** connect-pg-simple's idea of now: whole seconds, rounded up (its `get` compares `expire >= to_timestamp(now)`). */
const nowSeconds = (): number => Math.ceil(Date.now() / 1000);

/** The store primitives every rate-limiter-flexible store implements (its documented way to add a store). */
interface LimiterPrimitives {
  _upsert(...args: unknown[]): Promise<unknown>;
  _get(...args: unknown[]): Promise<unknown>;
  _delete(...args: unknown[]): Promise<unknown>;
}

type Callback<T> = ((err: unknown, value?: T) => void) | undefined;

/**
 * Sessions, login counters and login history in PostgreSQL, shared by every app instance on the database.
 * The tables are created (or upgraded) on first use, under an advisory lock, so instances may start at
 * once; a first use that fails (a database not up yet) is retried by the next. `close()` stops the purge
 * timer; the pool is the host's and stays open.
 *
 * @param pool a `pg` Pool; it must accept config-object queries (`{ name, text, values }`), as pg's does
 * @example
 * const storage = postgresSessionStorage(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * app.use(session({ store: storage.sessionStore, secret, resave: false, saveUninitialized: false }));
 */
export function postgresSessionStorage(pool: PgPool, options: PostgresSessionStorageOptions = {}): SessionStorage {
  if (typeof pool !== 'object' || pool === null || typeof (pool as { query?: unknown }).query !== 'function' || typeof (pool as { connect?: unknown }).connect !== 'function') {
    throw new TypeError('postgresSessionStorage(pool) needs a pg Pool, such as new pg.Pool({ connectionString })');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError("postgresSessionStorage(pool, options): options must be an object such as { table: 'tokenfence_sessions' }");
  checkKnownKeys('postgresSessionStorage', options, ['table', 'purgeIntervalMs', 'defaultTtlMs', 'onError'], OPTION_HINTS);
  const table = options.table ?? 'tokenfence_sessions';
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new TypeError(`options.table must be a lower-case SQL identifier (letters, digits, _; at most 51 characters), got ${JSON.stringify(table)}`);
  }
  checkStorageOptions(options);
  const purgeIntervalMs = options.purgeIntervalMs ?? 15 * 60_000;
  const defaultTtlMs = options.defaultTtlMs ?? 86_400_000;
  const onError = options.onError ?? logErrorToConsole;

  const session = require('express-session') as typeof import('express-session');
  const connectPgSimple = require('connect-pg-simple') as typeof import('connect-pg-simple');
  const { RateLimiterPostgres } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');

  const rows = async <R>(text: string, values?: unknown[]): Promise<R[]> => (await pool.query(text, values)).rows as R[];

  // Initialised once; a failed init is retried by the next call, not cached (connect-pg-simple's own
  // createTableIfMissing would keep a failed creation for the life of the store).
  let initialised: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    (initialised ??= migratePostgres(pool, table, MIGRATIONS, 'the session tables have').catch((err: unknown) => {
      initialised = undefined;
      throw err;
    }));

  /** Runs a store call once the tables exist; a failed init goes to the callback, as a query error would. */
  // Callbacks run on a later tick, as connect-pg-simple's do: a callback that throws is not taken for a failed query.
  const fail = (callback: Callback<never>, context: string, err: unknown): void => {
    if (typeof callback === 'function') process.nextTick(callback, err);
    else onError(err, context);
  };
  const whenReady = (callback: Callback<never>, context: string, run: () => void): void => {
    ready().then(run, (err: unknown) => fail(callback, context, err));
  };
  /** Answers a callback from a query of our own. */
  const answer = <T>(callback: Callback<T>, context: string, work: () => Promise<T>): void => {
    ready()
      .then(work)
      .then(
        (value) => typeof callback === 'function' && process.nextTick(callback, null, value),
        (err: unknown) => fail(callback, context, err),
      );
  };

  const PGStore = connectPgSimple(session);
  class PostgresSessionStore extends PGStore {
    constructor() {
      super({
        pool: pool as never,
        tableName: table,
        createTableIfMissing: false,
        ttl: defaultTtlMs / 1000,
        // One purge of ours deletes expired sessions and counters together (see below).
        pruneSessionInterval: false,
        // connect-pg-simple calls it as console.error: (message, error).
        errorLog: (...args: unknown[]) => {
          const error = args.find((a) => a instanceof Error) ?? new Error(args.filter((a) => typeof a === 'string').join(' '));
          onError(error, `postgresSessionStorage: ${typeof args[0] === 'string' ? args[0].replace(/:\s*$/, '') : 'session store error'}`);
        },
      });
    }

    override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
      whenReady(callback, 'session store get', () => super.get(sid, callback));
    }

    override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
      whenReady(callback, 'session store set', () => super.set(sid, sess, callback));
    }

    /**
     * As express-session's MemoryStore, and unlike connect-pg-simple's `touch`: renews the expiry and the
     * stored cookie of a live session, and never brings an expired one back.
     */
    override touch(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
      answer(callback, 'session store touch', async () => {
        const now = Date.now();
        const expires = sessionExpiry(sess, now, defaultTtlMs);
        const expire = Math.ceil(expires / 1000);
        // Only when it moves the expiry by more than a step (touchStepMs): no write for most requests of a busy session.
        await pool.query(
          `UPDATE ${table} SET expire = to_timestamp($1), sess = jsonb_set(sess::jsonb, '{cookie}', $2::jsonb)::json WHERE sid = $3 AND expire >= to_timestamp($4) AND expire < to_timestamp($5)`,
          [expire, JSON.stringify(sess.cookie ?? null), sid, nowSeconds(), (expires - touchStepMs(expires - now)) / 1000],
        );
      });
    }

    override destroy(sid: string, callback?: (err?: unknown) => void): void {
      whenReady(callback, 'session store destroy', () => super.destroy(sid, callback));
    }

    /** Every live session, by session id (connect-pg-simple has no `all`; answered as MemoryStore does). */
    override all(callback: (err: unknown, sessions?: Record<string, SessionData> | null) => void): void {
      answer(callback, 'session store all', async () => {
        const sessions: Record<string, SessionData> = Object.create(null) as Record<string, SessionData>;
        for (const row of await rows<{ sid: string; sess: SessionData }>(`SELECT sid, sess FROM ${table} WHERE expire >= to_timestamp($1)`, [nowSeconds()])) {
          sessions[row.sid] = row.sess;
        }
        return sessions;
      });
    }

    /** How many live sessions there are (connect-pg-simple has no `length`). */
    override length(callback: (err: unknown, length?: number) => void): void {
      answer(callback, 'session store length', async () => {
        const [row] = await rows<{ n: number }>(`SELECT count(*)::integer AS n FROM ${table} WHERE expire >= to_timestamp($1)`, [nowSeconds()]);
        return row!.n;
      });
    }

    /** Deletes every session (connect-pg-simple has no `clear`). */
    override clear(callback?: (err?: unknown) => void): void {
      answer(callback, 'session store clear', async () => void (await pool.query(`DELETE FROM ${table}`)));
    }
  }
  const sessionStore = new PostgresSessionStore();

  // The table is ours (a migration makes it), so `tableCreated` skips the limiter's own CREATE TABLE, which
  // runs asynchronously after construction (a consume before it ends fails with "Table is not created yet",
  // and a failure with no callback is an unhandled rejection); each store call waits for the migration instead.
  const base = RateLimiterPostgres.prototype as unknown as LimiterPrimitives;
  class PostgresLimiter extends RateLimiterPostgres {
    _upsert(...args: unknown[]): Promise<unknown> {
      return ready().then(() => base._upsert.apply(this, args));
    }
    _get(...args: unknown[]): Promise<unknown> {
      return ready().then(() => base._get.apply(this, args));
    }
    _delete(...args: unknown[]): Promise<unknown> {
      return ready().then(() => base._delete.apply(this, args));
    }
  }

  const loginInfo: LoginInfoStore = {
    get: async (user) => {
      await ready();
      const [row] = await rows<LoginRow>(`SELECT * FROM ${table}_logins WHERE user_name = $1`, [user]);
      return loginInfoFrom(row);
    },
    recordSuccess: async (user, at) => {
      await ready();
      // SET expressions read the row as it was: previous_login_time takes the old last_login_time.
      const [row] = await rows<LoginRow>(
        `INSERT INTO ${table}_logins AS l (user_name, login_count, last_login_time) VALUES ($1, 1, $2)
         ON CONFLICT (user_name) DO UPDATE SET login_count = l.login_count + 1, previous_login_time = l.last_login_time, last_login_time = EXCLUDED.last_login_time
         RETURNING *`,
        [user, at],
      );
      return loginInfoFrom(row);
    },
    recordFailure: async (user, at) => {
      await ready();
      await pool.query(`UPDATE ${table}_logins SET failed_login_count = failed_login_count + 1, last_failed_login_time = $2 WHERE user_name = $1`, [user, at]);
    },
  };

  let closed = false;
  const purge = async (): Promise<void> => {
    await ready();
    await pool.query(`DELETE FROM ${table} WHERE expire < to_timestamp($1)`, [nowSeconds()]);
    // A counter row past its expiry is absent to RateLimiterPostgres already; NULL means "never expires".
    await pool.query(`DELETE FROM ${table}_limits WHERE expire IS NOT NULL AND expire <= $1`, [Date.now()]);
  };
  const timer = setInterval(() => {
    if (!closed) purge().catch((err: unknown) => onError(err, 'postgresSessionStorage: purging expired sessions and counters failed'));
  }, purgeIntervalMs);
  timer.unref();

  return {
    sessionStore: sessionStore as Store,
    loginInfo,
    limiter(limiterOptions: LimiterOptions): RateLimiterAbstract {
      checkLimiterOptions('postgresSessionStorage: limiter', limiterOptions);
      return new PostgresLimiter({
        storeClient: pool,
        storeType: 'pool',
        tableName: `${table}_limits`,
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix: limiterOptions.keyPrefix,
        points: limiterOptions.points,
        duration: limiterOptions.duration,
      });
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      // Stops connect-pg-simple's own prune timer, if any; it ends no pool it was given.
      await sessionStore.close();
    },
  };
}

