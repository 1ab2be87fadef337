// Where sessions and login counters live: one store family (memory, SQLite, PostgreSQL) gives both the
// express-session store and the rate-limiter-flexible limiters of login protection (SPEC §8), so counters
// survive cookie wipes, IP changes and, outside memory, restarts.
import type { SessionData, Store } from 'express-session';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { checkFunction, checkKnownKeys, checkNumber } from '../../internal/options.js';

/** What a login counter counts: `points` failures in `duration` seconds, kept by key. */
export interface LimiterOptions {
  /** Separates the counters of one purpose (per account, per IP) in a shared table. Letters, digits, `_`, `-`. */
  readonly keyPrefix: string;
  /** How many consumptions a key may make per window. */
  readonly points: number;
  /** The window, in seconds (rate-limiter-flexible's unit). */
  readonly duration: number;
}

/** What the session resource reports of an account's logins (Jira's `loginInfo`). */
export interface LoginInfo {
  /** Successful logins, this one included. */
  readonly loginCount: number;
  /** Failed logins, ever. */
  readonly failedLoginCount: number;
  readonly lastFailedLoginTime: Date | null;
  /** The successful login before the last one. */
  readonly previousLoginTime: Date | null;
  readonly lastLoginTime: Date | null;
}

/** Per-account login history, keyed by the normalised user name. */
export interface LoginInfoStore {
  get(user: string): Promise<LoginInfo>;
  /** Counts a successful login at `at`; resolves with the history after it. */
  recordSuccess(user: string, at: Date): Promise<LoginInfo>;
  /**
   * Counts a failed login at `at`, for an account that has logged in before. A name that never logged in
   * gets no history row: made-up names must not grow the table (the lockout counter, which expires, still
   * counts them).
   */
  recordFailure(user: string, at: Date): Promise<void>;
}

/** The history of an account that never logged in. */
export const NO_LOGINS: LoginInfo = Object.freeze({ loginCount: 0, failedLoginCount: 0, lastFailedLoginTime: null, previousLoginTime: null, lastLoginTime: null });

/** The history after a success at `at`. */
export const afterSuccess = (info: LoginInfo, at: Date): LoginInfo => ({ ...info, loginCount: info.loginCount + 1, previousLoginTime: info.lastLoginTime, lastLoginTime: at });
/** The history after a failure at `at`. */
export const afterFailure = (info: LoginInfo, at: Date): LoginInfo => ({ ...info, failedLoginCount: info.failedLoginCount + 1, lastFailedLoginTime: at });

/** Options the database members of the family share (sqliteSessionStorage, postgresSessionStorage). */
export interface StorageOptions {
  /** How often expired sessions and counters are deleted, in ms (also once on `close()`). @default 900000 (15 min) */
  purgeIntervalMs?: number | undefined;
  /**
   * How long a session whose cookie has no expiry (a browser-session cookie, no `maxAge`) is kept after its
   * last save or touch, in ms. Sessions with an expiry are kept until it.
   * @default 86400000 (1 day)
   */
  defaultTtlMs?: number | undefined;
  /**
   * Told about errors no caller sees (a failed periodic purge; for PostgreSQL, connect-pg-simple's
   * `errorLog`). Never given session ids or data.
   * @default logs the context and the error's message to the console
   */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/** One store family for sessions and login counters. */
export interface SessionStorage {
  /** The express-session store. */
  readonly sessionStore: Store;
  /** Login history per account. */
  readonly loginInfo: LoginInfoStore;
  /** A rate-limiter-flexible limiter kept in this family's store. */
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /** Releases what the family opened itself (files, timers); a pool the host gave stays open. */
  close(): Promise<void>;
}

const KEY_PREFIX = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * Throws a TypeError unless `options` are {@link LimiterOptions}: a prefix without `:` keeps the counters
 * of two prefixes apart in one table (rate-limiter-flexible stores `prefix:key`).
 */
export function checkLimiterOptions(where: string, options: LimiterOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: options must be an object such as { keyPrefix: 'login_account', points: 5, duration: 900 }`);
  checkKnownKeys(where, options, ['keyPrefix', 'points', 'duration'], { windowMs: 'did you mean "duration" (seconds)?', max: 'did you mean "points"?', prefix: 'did you mean "keyPrefix"?' });
  if (typeof options.keyPrefix !== 'string' || !KEY_PREFIX.test(options.keyPrefix)) {
    throw new TypeError(`${where}: keyPrefix must be 1 to 100 letters, digits, _ or -, got ${JSON.stringify(options.keyPrefix)}`);
  }
  if (options.points === undefined) throw new TypeError(`${where}: points is required (consumptions per window)`);
  checkNumber(`${where}: points`, options.points, { min: 1, integer: true, unit: 'consumptions per window' });
  if (options.duration === undefined) throw new TypeError(`${where}: duration is required (the window, in seconds; 0 keeps counts until deleted)`);
  checkNumber(`${where}: duration`, options.duration, { min: 0, max: 10 * 366 * 86_400, unit: 'seconds' });
}

/** Throws a TypeError unless the options common to the SQLite and PostgreSQL members are well formed. */
export function checkStorageOptions(options: { purgeIntervalMs?: unknown; defaultTtlMs?: unknown; onError?: unknown }): void {
  checkNumber('options.purgeIntervalMs', options.purgeIntervalMs, { min: 1, max: 2 ** 31 - 1, unit: 'milliseconds' });
  checkNumber('options.defaultTtlMs', options.defaultTtlMs, { min: 1000, max: 10 * 365 * 86_400_000, unit: 'milliseconds' });
  checkFunction('options.onError', options.onError);
}

/**
 * How far a touch must move a session's expiry before it is written: 1 % of the time left, from 1 s to
 * 60 s. With rolling cookies express-session touches the store on every request; a session in use is then
 * written at most once a step, and it may end up to one step (18 s of a 30-minute idle timeout) early.
 */
export function touchStepMs(ttlMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(ttlMs / 100)));
}

/** When a session expires, in ms since the epoch: its cookie's expiry, else `defaultTtlMs` from now. */
export function sessionExpiry(session: SessionData, now: number, defaultTtlMs: number): number {
  const expires: unknown = session?.cookie?.expires;
  const at = expires instanceof Date || typeof expires === 'string' ? new Date(expires).getTime() : NaN;
  return Number.isFinite(at) ? at : now + defaultTtlMs;
}

/**
 * Sessions and counters in this process's memory: for tests and single-process demos. Everything is lost on
 * restart, and several processes do not share it.
 */
export function memorySessionStorage(...unexpected: unknown[]): SessionStorage {
  if (unexpected.length > 0) throw new TypeError('memorySessionStorage() takes no options: sessions and counters live in this process and end with it');
  const { MemoryStore } = require('express-session') as typeof import('express-session');
  const { RateLimiterMemory } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');
  const history = new Map<string, LoginInfo>();
  const loginInfo: LoginInfoStore = {
    get: async (user) => history.get(user) ?? NO_LOGINS,
    recordSuccess: async (user, at) => {
      const info = afterSuccess(history.get(user) ?? NO_LOGINS, at);
      history.set(user, info);
      return info;
    },
    recordFailure: async (user, at) => {
      const info = history.get(user);
      if (info !== undefined) history.set(user, afterFailure(info, at));
    },
  };
  return {
    sessionStore: new MemoryStore(),
    loginInfo,
    limiter: (options) => {
      checkLimiterOptions('memorySessionStorage: limiter', options);
      return new RateLimiterMemory({ keyPrefix: options.keyPrefix, points: options.points, duration: options.duration });
    },
    close: async () => undefined,
  };
}
