// Per-token rate limits (SPEC §5) on rate-limiter-flexible: a memory limiter by default, or any limiter
// the host builds (RateLimiterPostgres shares limits across instances). rate-limiter-flexible is loaded when
// a guard with a rate limit is built, not with the package.
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { checkKnownKeys } from '../../internal/options.js';

/** What an express-rate-limit user writes, and what it is here. */
const EXPRESS_RATE_LIMIT_NAMES: Readonly<Record<string, string>> = {
  max: 'express-rate-limit\'s "max" is "points" here (calls per window)',
  limit: 'express-rate-limit\'s "limit" is "points" here (calls per window)',
  windowMs: 'express-rate-limit\'s "windowMs" is "duration" here, in seconds (windowMs / 1000)',
};

/** Options of the guard's `rateLimit`. */
export interface TokenRateLimitOptions {
  /**
   * Calls one token may make per `duration`. Ignored when `limiter` is given.
   * @default 600
   */
  points?: number | undefined;
  /**
   * The window, in seconds. Ignored when `limiter` is given.
   * @default 60
   */
  duration?: number | undefined;
  /**
   * A rate-limiter-flexible limiter of your own, keyed here by token id: for example
   * `new RateLimiterPostgres({ storeClient: pool, points: 600, duration: 60 })` so that every app
   * instance shares one count.
   * @default a RateLimiterMemory with `points` and `duration`
   */
  limiter?: RateLimiterAbstract | undefined;
}

/** The outcome of one call: allowed or not, and the `RateLimit-*` headers to send either way. */
export interface RateLimitOutcome {
  readonly allowed: boolean;
  readonly headers: Record<string, string>;
}

/**
 * Whether a rejection is rate-limiter-flexible's "limit hit" (a RateLimiterRes) rather than a store error.
 * Told by shape, not `instanceof`: a host's limiter may come from another copy of the package.
 */
function isLimitHit(rejection: unknown): rejection is RateLimiterRes {
  if (typeof rejection !== 'object' || rejection === null || rejection instanceof Error) return false;
  const res = rejection as Partial<Record<keyof RateLimiterRes, unknown>>;
  return typeof res.msBeforeNext === 'number' && typeof res.remainingPoints === 'number' && Number.isFinite(res.msBeforeNext);
}

/** A per-token limiter; `consume` rejects only when the limiter's store fails. */
export class TokenRateLimiter {
  readonly #limiter: RateLimiterAbstract;
  readonly #policy: string;

  constructor(options: TokenRateLimitOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options.rateLimit must be an object such as { points: 600, duration: 60 }');
    checkKnownKeys('tokenGuard: options.rateLimit', options, ['points', 'duration', 'limiter'], EXPRESS_RATE_LIMIT_NAMES);
    if (options.limiter !== undefined && (options.points !== undefined || options.duration !== undefined)) {
      throw new TypeError('options.rateLimit: give either a limiter of your own or points and duration, not both (the limiter has its own)');
    }
    if (options.limiter !== undefined) {
      if (typeof (options.limiter as { consume?: unknown }).consume !== 'function') {
        throw new TypeError('options.rateLimit.limiter must be a rate-limiter-flexible limiter (RateLimiterMemory, RateLimiterPostgres, …)');
      }
      this.#limiter = options.limiter;
    } else {
      const points = options.points ?? 600;
      const duration = options.duration ?? 60;
      if (!Number.isSafeInteger(points) || points <= 0) throw new TypeError(`options.rateLimit.points must be a positive integer, got ${String(points)}`);
      if (!Number.isSafeInteger(duration) || duration <= 0) throw new TypeError(`options.rateLimit.duration must be a positive number of seconds, got ${String(duration)}`);
      const { RateLimiterMemory } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');
      this.#limiter = new RateLimiterMemory({ points, duration, keyPrefix: 'tokenfence' });
    }
    this.#policy = `${this.#limiter.points};w=${this.#limiter.duration}`;
  }

  #headers(res: RateLimiterRes): Record<string, string> {
    const reset = Math.max(0, Math.ceil(res.msBeforeNext / 1000));
    return {
      'RateLimit-Policy': this.#policy,
      'RateLimit-Limit': String(this.#limiter.points),
      'RateLimit-Remaining': String(Math.max(0, res.remainingPoints)),
      'RateLimit-Reset': String(reset),
    };
  }

  /** Counts one call of the token. Resolves with the verdict; rejects when the store behind the limiter fails. */
  async consume(tokenId: string): Promise<RateLimitOutcome> {
    try {
      const res = await this.#limiter.consume(tokenId);
      return { allowed: true, headers: this.#headers(res) };
    } catch (rejection) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the limit is hit, with an Error when the store fails.
      if (!isLimitHit(rejection)) throw rejection;
      const headers = this.#headers(rejection);
      headers['Retry-After'] = String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      return { allowed: false, headers };
    }
  }
}
