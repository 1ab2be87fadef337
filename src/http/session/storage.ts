// Where sessions and login counters live: one store family (memory, SQLite, PostgreSQL) gives both the
// express-session store and the rate-limiter-flexible limiters of login protection (SPEC §8), so counters
// survive cookie wipes, IP changes and, outside memory, restarts.
import type { Store } from 'express-session';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** What a login counter counts: `points` failures in `duration` seconds, kept by key. */
export interface LimiterOptions {
  /** Separates the counters of one purpose (per account, per IP) in a shared table. Letters, digits, `_`, `-`. */
  readonly keyPrefix: string;
  /** How many consumptions a key may make per window. */
  readonly points: number;
  /** The window, in seconds (rate-limiter-flexible's unit). */
  readonly duration: number;
}

/** One store family for sessions and login counters. */
export interface SessionStorage {
  /** The express-session store. */
  readonly sessionStore: Store;
  /** A rate-limiter-flexible limiter kept in this family's store. */
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /** Releases what the family opened itself (files, timers); a pool the host gave stays open. */
  close(): Promise<void>;
}

/**
 * Sessions and counters in this process's memory: for tests and single-process demos. Everything is lost on
 * restart, and several processes do not share it.
 */
export function memorySessionStorage(): SessionStorage {
  const { MemoryStore } = require('express-session') as typeof import('express-session');
  const { RateLimiterMemory } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');
  return {
    sessionStore: new MemoryStore(),
    limiter: (options) => new RateLimiterMemory({ keyPrefix: options.keyPrefix, points: options.points, duration: options.duration }),
    close: async () => undefined,
  };
}
