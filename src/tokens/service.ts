// The token service (SPEC §4): issue, verify, edit, rotate, revoke and purge tokens under a lifetime policy.
import { formatRestrictions } from '../rules/format.js';
import { parseRestrictions, type RestrictionSet } from '../rules/parse.js';
import { checkFunction, checkKnownKeys, checkNumber } from '../internal/options.js';
import type { AuditEvent, AuditHook } from '../audit/events.js';
import { TokenError } from './errors.js';
import { CHECKSUM_LENGTH, checkPrefix, DEFAULT_PREFIX, generateToken, ID_LENGTH, parseToken, SECRET_LENGTH } from './format.js';
import { SecretHasher } from './hash.js';
import { checkStore, type StoredToken, type TokenRecord, type TokenStore, type UsageUpdate } from './store.js';

const DAY_MS = 86_400_000;

/** Lifetime and quota rules, checked at create, at rotate and at use. */
export interface TokenPolicy {
  /** The longest a token may live, in days. Lowering it makes existing longer-lived tokens fail with `policy`. */
  maxLifetimeDays?: number | undefined;
  /** The lifetime of a token issued without an expiry. @default maxLifetimeDays, else none */
  defaultLifetimeDays?: number | undefined;
  /** Refuse tokens without an expiry (when no default applies). @default false */
  requireExpiry?: boolean | undefined;
  /** How many live (neither revoked nor expired) tokens one owner may hold. @default unlimited */
  maxTokensPerUser?: number | undefined;
  /** Label, expiry and restrictions can never change after creation. @default false */
  secureMode?: boolean | undefined;
  /** Delete expired and revoked tokens this many days after they ended, on a schedule. @default never */
  expiredRetentionDays?: number | undefined;
}

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  /** Where tokens live. */
  store: TokenStore;
  policy?: TokenPolicy | undefined;
  /** Receives an event for every lifecycle change. */
  audit?: AuditHook | undefined;
  /** Server-side secret mixed into every hash (HMAC-SHA256); keep it outside the database. */
  pepper?: string | Uint8Array | undefined;
  /** Token prefix. @default 'tfk_' */
  prefix?: string | undefined;
  /** The time source. @default () => new Date() */
  clock?: (() => Date) | undefined;
  /** Usage counts are written in batches at most this often; `close()` writes the rest. @default 1000 */
  usageFlushMs?: number | undefined;
  /** How many distinct restriction texts stay compiled. @default 1000 */
  cacheSize?: number | undefined;
  /**
   * How long, in milliseconds, `verify` reuses a token's stored row instead of reading the store again.
   * A repeat of the token text that last matched the row's hash is recognised by a constant-time
   * comparison instead of hashing again; expiry, policy and the user are still checked on every call.
   * Revocations, edits and rotations made through this service take effect at once; those made by
   * another process or instance sharing the store (the CLI, a second app server) within this time, which
   * keeps SPEC §4's bound of 1 s. 0 reads the store on every call. @default 500
   */
  recordCacheMs?: number | undefined;
  /** How often the scheduled purge runs when `policy.expiredRetentionDays` is set. @default 3600000 */
  purgeIntervalMs?: number | undefined;
  /** Reports errors that cannot be thrown to a caller (audit hook, usage flush, scheduled purge). */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/** What {@link TokenService.issue} takes. */
export interface IssueInput {
  owner: string | null;
  label: string;
  expiresAt?: Date | null | undefined;
  restrictions?: string | undefined;
}

/** Changes {@link TokenService.update} may make (standard mode only). */
export interface UpdateInput {
  label?: string | undefined;
  expiresAt?: Date | null | undefined;
  restrictions?: string | undefined;
}

/** Who asks for a lifecycle change, for the audit trail. */
export interface ActorOptions {
  actor?: string | null | undefined;
}

/** Why {@link TokenService.verify} refused a token. */
export type VerifyFailure = 'malformed' | 'checksum' | 'unknown' | 'revoked' | 'expired' | 'user_mismatch' | 'user_required' | 'policy';

/** The outcome of {@link TokenService.verify}. */
export type VerifyResult =
  | { ok: true; record: TokenRecord; user: string; restrictions: RestrictionSet }
  | { ok: false; reason: VerifyFailure };

/** The token service; see {@link createTokenService}. */
export interface TokenService {
  /** The token prefix this service issues and accepts (`tfk_` unless configured). */
  readonly prefix: string;
  /** Issues a token. The returned `token` is the only time the secret is ever available. */
  issue(input: IssueInput, options?: ActorOptions): Promise<{ token: string; record: TokenRecord }>;
  /** Checks a presented token and records the use. Never throws for bad input. */
  verify(token: unknown, context?: { username?: string; ip?: string | null }): Promise<VerifyResult>;
  /**
   * {@link verify} without waiting, when no store read is needed: a malformed or mistyped token, or a
   * token verified within `recordCacheMs`. Returns undefined when the store must be read (then call
   * `verify`). Records the use exactly as `verify` does.
   */
  verifySync(token: unknown, context?: { username?: string; ip?: string | null }): VerifyResult | undefined;
  get(id: string): Promise<TokenRecord | undefined>;
  /** The tokens of one owner (`null`: the any-user tokens). */
  list(owner: string | null): Promise<TokenRecord[]>;
  listAll(): Promise<TokenRecord[]>;
  update(id: string, changes: UpdateInput, options?: ActorOptions): Promise<TokenRecord>;
  /** A new secret; the old one stops working at once, or after `graceSeconds`. */
  rotate(id: string, options?: ActorOptions & { graceSeconds?: number }): Promise<{ token: string; record: TokenRecord }>;
  revoke(id: string, options?: ActorOptions): Promise<TokenRecord>;
  /** Revokes every live token of an owner; returns how many. */
  revokeAll(owner: string | null, options?: ActorOptions): Promise<number>;
  /** Deletes tokens that ended more than `expiredRetentionDays` ago (0 when unset); returns their ids. */
  purgeExpired(): Promise<string[]>;
  /** Writes pending usage, stops timers, closes the store. */
  close(): Promise<void>;
}

/** Compares two strings in time that depends on their length only (secrets have a fixed length). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const ID_SHAPE = /^[0-9A-Za-z]{12}$/;
/**
 * The message for an id that names no token. It repeats the id only when it has an id's shape: a whole
 * token passed by mistake (`revoke(token)`) must not end up in an error message, a log or a response.
 */
function notFound(id: unknown): string {
  if (typeof id === 'string' && ID_SHAPE.test(id)) return `no token with id ${JSON.stringify(id)}`;
  if (typeof id === 'string' && /[a-z0-9]_[0-9A-Za-z]{12}/i.test(id)) return 'no token with that id: the text given looks like a whole token (not repeated here); pass its id, the 12 characters after the prefix';
  return `no token with that id: a token id is 12 letters and digits (the text given is not repeated here)`;
}

type VerifyContext = { username?: string; ip?: string | null };
const NO_CONTEXT: VerifyContext = {};
/** The verify context as given, or none for anything that is not an object (never a throw: SPEC §4). */
const contextOf = (context: unknown): VerifyContext => (typeof context === 'object' && context !== null ? (context as VerifyContext) : NO_CONTEXT);

/** Unicode NFKC plus case folding: how a Basic username is compared with a token's owner. */
export const normalizeUser = (name: string): string => name.normalize('NFKC').toLowerCase().normalize('NFKC');

/**
 * A token's uses not yet written to the store: one entry per token, updated in place until a flush takes
 * it. The time is kept as a number, so no Date handed to a caller is shared with what will be written.
 */
interface PendingUse {
  readonly id: string;
  count: number;
  lastAccessedMs: number;
  lastAccessedIp: string | null;
}

/** The record callers see: the stored token with its pending uses; `usedAt` is the Date of the use just counted. */
function publicRecord(t: StoredToken, pending?: PendingUse, usedAt?: Date): TokenRecord {
  return {
    id: t.id,
    owner: t.owner,
    label: t.label,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastAccessed: pending ? (usedAt ?? new Date(pending.lastAccessedMs)) : t.lastAccessed,
    lastAccessedIp: pending ? pending.lastAccessedIp : t.lastAccessedIp,
    usageCount: t.usageCount + (pending ? pending.count : 0),
    restrictions: t.restrictions,
    revokedAt: t.revokedAt,
  };
}

const SERVICE_OPTIONS = ['store', 'policy', 'audit', 'pepper', 'prefix', 'clock', 'usageFlushMs', 'cacheSize', 'recordCacheMs', 'purgeIntervalMs', 'onError'] as const;
const POLICY_OPTIONS = ['maxLifetimeDays', 'defaultLifetimeDays', 'requireExpiry', 'maxTokensPerUser', 'secureMode', 'expiredRetentionDays'] as const;
/** What a user of other token libraries writes for a policy option, and what it is here. */
const POLICY_HINTS: Readonly<Record<string, string>> = {
  maxLifetime: 'did you mean "maxLifetimeDays" (a number of days)?',
  defaultLifetime: 'did you mean "defaultLifetimeDays" (a number of days)?',
  expiredRetention: 'did you mean "expiredRetentionDays" (a number of days)?',
};

function checkPolicy(policy: TokenPolicy): Required<Pick<TokenPolicy, 'requireExpiry' | 'secureMode'>> & TokenPolicy {
  if (typeof policy !== 'object' || policy === null) throw new TypeError(`options.policy must be an object such as { maxLifetimeDays: 90 }, got ${policy === null ? 'null' : typeof policy}`);
  checkKnownKeys('createTokenService: options.policy', policy, POLICY_OPTIONS, POLICY_HINTS);
  for (const key of ['requireExpiry', 'secureMode'] as const) {
    if (policy[key] !== undefined && typeof policy[key] !== 'boolean') throw new TypeError(`options.policy.${key} must be a boolean, got ${String(policy[key])}`);
  }
  for (const key of ['maxLifetimeDays', 'defaultLifetimeDays', 'maxTokensPerUser', 'expiredRetentionDays'] as const) {
    const value = policy[key];
    if (value !== undefined && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
      throw new TypeError(`options.policy.${key} must be a positive number, got ${String(value)}`);
    }
  }
  if (policy.defaultLifetimeDays !== undefined && policy.maxLifetimeDays !== undefined && policy.defaultLifetimeDays > policy.maxLifetimeDays) {
    throw new TypeError('options.policy.defaultLifetimeDays must not exceed maxLifetimeDays');
  }
  return { ...policy, requireExpiry: policy.requireExpiry === true, secureMode: policy.secureMode === true };
}

/**
 * Creates the token service.
 *
 * @example
 * const tokens = createTokenService({ store: new SqliteTokenStore('tokens.db'), policy: { maxLifetimeDays: 90 } });
 * const { token } = await tokens.issue({ owner: 'alice', label: 'CI', restrictions: '[GET]/rest/api/2/issue/.*' });
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  if (typeof options !== 'object' || options === null) throw new TypeError('createTokenService needs an options object with a store');
  checkKnownKeys('createTokenService', options, SERVICE_OPTIONS);
  checkNumber('options.usageFlushMs', options.usageFlushMs, { min: 1, unit: 'milliseconds' });
  checkNumber('options.cacheSize', options.cacheSize, { min: 1, integer: true, unit: 'restriction texts' });
  checkNumber('options.purgeIntervalMs', options.purgeIntervalMs, { min: 1, max: 2 ** 31 - 1, unit: 'milliseconds' });
  checkFunction('options.clock', options.clock);
  checkFunction('options.onError', options.onError);
  checkFunction('options.audit', options.audit);
  const store = checkStore(options.store);
  const policy = checkPolicy(options.policy ?? {});
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const hasher = new SecretHasher(options.pepper);
  const clock = options.clock ?? (() => new Date());
  /**
   * Monotonic time in ms as of the last `readClock`, for the row cache: a wall clock that steps back (NTP,
   * a resumed VM) must not keep a cached row fresh for longer than `recordCacheMs`, and a configured
   * clock (tests) must not either.
   */
  let monoMs = 0;
  /** The time of a verify by the service clock; sets `monoMs` for the row cache. */
  const readClock = (): Date => {
    monoMs = performance.now();
    return clock();
  };
  const flushMs = options.usageFlushMs ?? 1000;
  const cacheSize = options.cacheSize ?? 1000;
  const recordCacheMs = options.recordCacheMs ?? 500;
  if (!(typeof recordCacheMs === 'number' && recordCacheMs >= 0 && recordCacheMs <= 1000)) {
    throw new TypeError(`options.recordCacheMs must be a number of milliseconds from 0 to 1000 (revocations must reach every instance within 1 s), got ${String(recordCacheMs)}`);
  }
  const onError = options.onError ?? ((error: unknown, context: string) => console.error(`tokenfence: ${context}:`, error));
  const audit = options.audit;

  // Initialised once; a failed init (a database not up yet) is retried by the next call, not cached.
  let ready: Promise<void> | undefined;
  const init = (): Promise<void> =>
    (ready ??= Promise.resolve()
      .then(() => store.init?.())
      .catch((err: unknown) => {
        ready = undefined;
        throw err;
      }));

  // ---- audit ----
  const emit = (event: Omit<AuditEvent, 'at' | 'outcome'> & { outcome?: AuditEvent['outcome'] }): void => {
    if (!audit) return;
    try {
      // Frozen, with a Date of its own (a clock may hand out one shared Date): no hook or sink can change an event once emitted.
      // An actor that is not a string (a caller's mistake) is recorded as no user rather than breaking a sink.
      const user = typeof event.user === 'string' ? event.user : null;
      const result = audit(Object.freeze({ outcome: 'success', at: new Date(clock().getTime()), ...event, user }));
      if (result instanceof Promise) result.catch((err) => onError(err, 'audit hook failed'));
    } catch (err) {
      onError(err, 'audit hook failed');
    }
  };

  // ---- compiled restrictions, LRU by text ----
  const compiled = new Map<string, RestrictionSet>();
  const restrictionsOf = (text: string): RestrictionSet => {
    let set = compiled.get(text);
    if (set) {
      compiled.delete(text);
    } else {
      set = parseRestrictions(text);
      if (compiled.size >= cacheSize) compiled.delete(compiled.keys().next().value!);
    }
    compiled.set(text, set);
    return set;
  };
  /** Validates restriction text (throws RestrictionSyntaxError with lines and columns) and canonicalizes it. */
  const canonicalRestrictions = (text: string | undefined): string => {
    if (text === undefined) return '';
    if (typeof text !== 'string') throw new TokenError('invalid_input', 'restrictions must be a string of rule lines');
    return formatRestrictions(restrictionsOf(text));
  };

  // ---- recently verified rows, by token id (never by secret); bounded in time and size ----
  const MAX_CACHED_ROWS = 10_000;
  // `token` is the last token text that passed the checksum and hashed to the row: a repeat call compares
  // it in constant time instead. It lives in this process's memory only, as long as the row (≤ recordCacheMs).
  interface CachedRow {
    stored: StoredToken;
    until: number;
    /** When the row stops being usable (revocation or expiry, whichever is first), in ms; Infinity for never. */
    endsAt: number;
    /** Whether the row's lifetime is within the policy (`lifetimeProblem`), worked out once per read. */
    withinPolicy: boolean;
    restrictions: RestrictionSet | undefined;
    token: string | undefined;
  }
  const tokenLength = prefix.length + ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
  const rows = new Map<string, CachedRow>();
  // Bumped by every change: a read that was in flight during a change is used once but not cached.
  let epoch = 0;
  /** The row of the last repeat: a run of calls with one token skips the id lookup. */
  let lastRow: CachedRow | undefined;
  const forget = (id: string): void => {
    epoch++;
    rows.delete(id);
    lastRow = undefined;
  };
  /** The cached row of `id` while it is fresh; a stale one is dropped. */
  const freshRow = (id: string, nowMs: number): CachedRow | undefined => {
    if (recordCacheMs === 0) return undefined;
    const cached = rows.get(id);
    if (cached === undefined || cached.until > nowMs) return cached;
    rows.delete(id);
    return undefined;
  };
  /** Reads the row of `id` from the store and caches it, unless a change happened while it was read. */
  const readRow = async (id: string): Promise<CachedRow | undefined> => {
    const started = epoch;
    await init();
    const stored = await store.get(id);
    const entry: CachedRow | undefined = stored && {
      stored,
      until: performance.now() + recordCacheMs,
      endsAt: Math.min(stored.revokedAt?.getTime() ?? Infinity, stored.expiresAt?.getTime() ?? Infinity),
      withinPolicy: lifetimeProblem(stored.createdAt, stored.expiresAt) === null,
      restrictions: undefined,
      token: undefined,
    };
    if (entry === undefined || recordCacheMs === 0 || epoch !== started) return entry;
    if (rows.size >= MAX_CACHED_ROWS) rows.delete(rows.keys().next().value!);
    rows.set(id, entry);
    return entry;
  };
  /** A fresh row whose last matching token text is exactly `token` (compared in constant time). */
  const repeatOf = (token: unknown, nowMs: number): CachedRow | undefined => {
    if (recordCacheMs === 0 || typeof token !== 'string' || token.length !== tokenLength || !token.startsWith(prefix)) return undefined;
    const last = lastRow;
    if (last !== undefined && last.until > nowMs && sameText(last.token!, token)) return last;
    const row = freshRow(token.slice(prefix.length, prefix.length + ID_LENGTH), nowMs);
    if (row === undefined || row.token === undefined || !sameText(row.token, token)) return undefined;
    lastRow = row;
    return row;
  };

  // ---- policy ----
  const lifetimeProblem = (createdAt: Date, expiresAt: Date | null): string | null => {
    if (expiresAt === null) {
      if (policy.requireExpiry || policy.maxLifetimeDays !== undefined) {
        return policy.maxLifetimeDays !== undefined ? `tokens must expire within ${policy.maxLifetimeDays} days (policy.maxLifetimeDays)` : 'tokens must have an expiry (policy.requireExpiry)';
      }
      return null;
    }
    if (policy.maxLifetimeDays !== undefined && expiresAt.getTime() - createdAt.getTime() > policy.maxLifetimeDays * DAY_MS) {
      return `the lifetime is over the limit of ${policy.maxLifetimeDays} days (policy.maxLifetimeDays)`;
    }
    return null;
  };
  const resolveExpiry = (now: Date, expiresAt: Date | null | undefined): Date | null => {
    if (expiresAt !== undefined && expiresAt !== null) {
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw new TokenError('invalid_input', 'expiresAt must be a valid Date');
      if (expiresAt <= now) throw new TokenError('expiry_in_past', 'expiresAt must be in the future');
      return expiresAt;
    }
    const days = policy.defaultLifetimeDays ?? policy.maxLifetimeDays;
    if (days !== undefined) return new Date(now.getTime() + days * DAY_MS);
    if (policy.requireExpiry) throw new TokenError('expiry_required', 'an expiry is required (policy.requireExpiry)');
    return null;
  };
  const checkLifetime = (createdAt: Date, expiresAt: Date | null): void => {
    const problem = lifetimeProblem(createdAt, expiresAt);
    if (problem !== null) throw new TokenError(expiresAt === null ? 'expiry_required' : 'lifetime_exceeded', problem);
  };
  const isLive = (t: StoredToken, now: Date): boolean => (t.revokedAt === null || t.revokedAt > now) && (t.expiresAt === null || t.expiresAt > now);
  /**
   * Issues and rotations of one owner run one after the other in this process, so a quota check and the
   * insert it allows cannot interleave with another's (ten concurrent issues under a limit of one would
   * all pass the check first).
   */
  const ownerQueues = new Map<unknown, Promise<void>>();
  const oneAtATime = <T>(owner: unknown, task: () => Promise<T>): Promise<T> => {
    const run = (ownerQueues.get(owner) ?? Promise.resolve()).then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    ownerQueues.set(owner, tail);
    void tail.then(() => {
      if (ownerQueues.get(owner) === tail) ownerQueues.delete(owner);
    });
    return run;
  };
  const checkQuota = async (owner: string | null, now: Date): Promise<void> => {
    if (policy.maxTokensPerUser === undefined) return;
    const live = (await store.listByOwner(owner)).filter((t) => isLive(t, now)).length;
    if (live >= policy.maxTokensPerUser) {
      throw new TokenError('quota_exceeded', `${owner ?? 'the any-user pool'} already has ${live} live tokens; the limit is ${policy.maxTokensPerUser} (policy.maxTokensPerUser)`);
    }
  };
  const checkLabel = (label: unknown): string => {
    if (typeof label !== 'string' || label.trim() === '' || label.length > 255) throw new TokenError('invalid_input', 'label must be a non-empty string of at most 255 characters');
    return label;
  };

  // ---- usage, coalesced ----
  const pending = new Map<string, PendingUse>();
  let flushTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pending.size === 0) return flushing;
    const entries = [...pending.values()];
    pending.clear();
    const batch: UsageUpdate[] = entries.map((u) => ({ id: u.id, count: u.count, lastAccessed: new Date(u.lastAccessedMs), lastAccessedIp: u.lastAccessedIp }));
    flushing = flushing
      .then(() => store.recordUsage(batch))
      .catch((err: unknown) => {
        // Put the uses back (added to newer ones, whose time is the later) so a transient store error loses nothing.
        for (const u of entries) {
          const newer = pending.get(u.id);
          if (newer === undefined) pending.set(u.id, u);
          else newer.count += u.count;
        }
        onError(err, 'could not record token usage');
      });
    return flushing;
  };
  /** Counts a use at `at`; returns the token's pending uses, this one included. */
  const recordUse = (id: string, ip: string | null, at: Date): PendingUse => {
    // The entry is updated in place (one object per token per flush, not per call); a flush takes the
    // entries out of the map and writes copies, so nothing it wrote is changed afterwards.
    let entry = pending.get(id);
    if (entry === undefined) pending.set(id, (entry = { id, count: 1, lastAccessedMs: at.getTime(), lastAccessedIp: ip }));
    else {
      entry.count++;
      entry.lastAccessedMs = at.getTime();
      entry.lastAccessedIp = ip;
    }
    if (flushTimer === undefined) {
      flushTimer = setTimeout(() => void flush(), flushMs);
      flushTimer.unref();
    }
    return entry;
  };

  const mustGet = async (id: string): Promise<StoredToken> => {
    await init();
    const token = typeof id === 'string' ? await store.get(id) : undefined;
    if (!token) throw new TokenError('not_found', notFound(id));
    return token;
  };

  const issueAt = async (input: IssueInput, now: Date, actor: string | null | undefined, replacing = false): Promise<{ token: string; stored: StoredToken }> => {
    const owner = input.owner;
    if (owner !== null && (typeof owner !== 'string' || owner === '')) throw new TokenError('invalid_input', 'owner must be a non-empty string, or null for an any-user token');
    const label = checkLabel(input.label);
    const restrictions = canonicalRestrictions(input.restrictions);
    const expiresAt = resolveExpiry(now, input.expiresAt);
    checkLifetime(now, expiresAt);
    // A rotation replaces a live token: it does not add to the owner's count.
    if (!replacing) await checkQuota(owner, now);
    const { token, id, secret } = generateToken(prefix);
    const stored: StoredToken = { id, owner, label, createdAt: now, expiresAt, lastAccessed: null, lastAccessedIp: null, usageCount: 0, restrictions, revokedAt: null, ...hasher.hash(secret) };
    await store.insert(stored);
    emit({ type: 'token.created', user: actor ?? owner, tokenId: id });
    return { token, stored };
  };

  /** The checks after the secret matched, at `now` by the service clock: revocation, expiry, policy, user; then the use is recorded. */
  const accept = (row: CachedRow, context: { username?: string; ip?: string | null }, now: Date): VerifyResult => {
    const stored = row.stored;
    // Written so that an unreadable date (NaN) refuses the token too.
    if (!(now.getTime() < row.endsAt)) {
      if (stored.revokedAt !== null && stored.revokedAt <= now) return { ok: false, reason: 'revoked' };
      return { ok: false, reason: 'expired' };
    }
    if (!row.withinPolicy) return { ok: false, reason: 'policy' };
    const username = typeof context.username === 'string' ? context.username : undefined;
    let user: string;
    if (stored.owner === null) {
      if (username === undefined || username === '') return { ok: false, reason: 'user_required' };
      user = username;
    } else {
      if (username !== undefined && normalizeUser(username) !== normalizeUser(stored.owner)) return { ok: false, reason: 'user_mismatch' };
      user = stored.owner;
    }
    let restrictions: RestrictionSet;
    try {
      restrictions = row.restrictions ?? restrictionsOf(stored.restrictions);
      if (recordCacheMs > 0) row.restrictions = restrictions;
    } catch (err) {
      // Stored text that no longer parses (edited in the database by hand): fail closed.
      onError(err, `token ${stored.id} has restrictions that do not parse`);
      return { ok: false, reason: 'policy' };
    }
    // Only a string is an address: anything else would reach the store (and fail every usage write).
    const ip = typeof context.ip === 'string' ? context.ip : null;
    return { ok: true, record: publicRecord(stored, recordUse(stored.id, ip, now), now), user, restrictions };
  };

  /** A rotation, in the owner's turn. */
  const rotateNow = async (id: string, grace: number, actor: string | null | undefined): Promise<{ token: string; record: TokenRecord }> => {
    const old = await mustGet(id);
    const now = clock();
    if (!isLive(old, now)) throw new TokenError('invalid_input', 'only a live token can be rotated (it is revoked or expired)');
    // A token in its grace period has a replacement already: rotating it again would leave one more live token each time.
    if (old.revokedAt !== null) throw new TokenError('invalid_input', 'this token was rotated already and is in its grace period; rotate its replacement');
    // The new token keeps label, restrictions and expiry; its lifetime is checked anew from now.
    const { token, stored } = await issueAt({ owner: old.owner, label: old.label, restrictions: old.restrictions, expiresAt: old.expiresAt }, now, actor, true);
    // Another instance may have revoked it meanwhile: an earlier revocation is kept, never moved later.
    const current = await store.get(old.id);
    const graceEnd = new Date(now.getTime() + grace * 1000);
    if (current !== undefined && (current.revokedAt === null || current.revokedAt > graceEnd)) await store.update(old.id, { revokedAt: graceEnd });
    forget(old.id);
    emit({ type: 'token.rotated', user: actor ?? old.owner, tokenId: old.id, reason: `replaced by ${stored.id}` });
    return { token, record: publicRecord(stored) };
  };

  let purgeTimer: NodeJS.Timeout | undefined;
  const service: TokenService = {
    prefix,

    async issue(input, opts = {}) {
      if (typeof input !== 'object' || input === null) throw new TokenError('invalid_input', 'issue needs { owner, label, expiresAt?, restrictions? }');
      await init();
      return oneAtATime(input.owner, async () => {
        const { token, stored } = await issueAt(input, clock(), opts.actor);
        return { token, record: publicRecord(stored) };
      });
    },

    verifySync(token, context) {
      // A repeat of a token verified within recordCacheMs needs neither the checksum nor the hash again.
      const now = readClock();
      const repeat = repeatOf(token, monoMs);
      if (repeat !== undefined) return accept(repeat, contextOf(context), now);
      const parsed = parseToken(token, prefix);
      return parsed.ok ? undefined : parsed;
    },

    async verify(token, context) {
      const quick = service.verifySync(token, context);
      if (quick !== undefined) return quick;
      // verifySync answers every token that does not parse; this one needs its row and its hash.
      const parsed = parseToken(token, prefix);
      if (!parsed.ok) return parsed;
      const row = freshRow(parsed.id, performance.now()) ?? (await readRow(parsed.id));
      if (row === undefined || !hasher.matches(parsed.secret, row.stored)) return { ok: false, reason: 'unknown' };
      if (recordCacheMs > 0) row.token = token as string;
      // After a store read, time has moved on.
      return accept(row, contextOf(context), readClock());
    },

    async get(id) {
      await init();
      const stored = typeof id === 'string' ? await store.get(id) : undefined;
      return stored && publicRecord(stored, pending.get(stored.id));
    },

    async list(owner) {
      await init();
      return (await store.listByOwner(owner)).map((t) => publicRecord(t, pending.get(t.id)));
    },

    async listAll() {
      await init();
      return (await store.listAll()).map((t) => publicRecord(t, pending.get(t.id)));
    },

    async update(id, changes, opts = {}) {
      const stored = await mustGet(id);
      if (policy.secureMode) throw new TokenError('secure_mode', 'tokens cannot be edited in secure mode (policy.secureMode); revoke it and create a new one');
      if (typeof changes !== 'object' || changes === null) throw new TokenError('invalid_input', 'update needs { label?, expiresAt?, restrictions? }');
      const next: { label?: string; expiresAt?: Date | null; restrictions?: string } = {};
      if (changes.label !== undefined) next.label = checkLabel(changes.label);
      if (changes.restrictions !== undefined) next.restrictions = canonicalRestrictions(changes.restrictions);
      if (changes.expiresAt !== undefined) {
        const now = clock();
        if (changes.expiresAt !== null && (!(changes.expiresAt instanceof Date) || Number.isNaN(changes.expiresAt.getTime()))) {
          throw new TokenError('invalid_input', 'expiresAt must be a valid Date or null');
        }
        if (changes.expiresAt !== null && changes.expiresAt <= now) throw new TokenError('expiry_in_past', 'expiresAt must be in the future');
        checkLifetime(stored.createdAt, changes.expiresAt);
        next.expiresAt = changes.expiresAt;
      }
      const updated = await store.update(stored.id, next);
      // After the write: a verify that read the old row while it was in flight must not keep it.
      forget(stored.id);
      if (!updated) throw new TokenError('not_found', notFound(id));
      emit({ type: 'token.updated', user: opts.actor ?? stored.owner, tokenId: stored.id });
      return publicRecord(updated, pending.get(updated.id));
    },

    async rotate(id, opts = {}) {
      const grace = opts.graceSeconds ?? 0;
      if (!(typeof grace === 'number' && grace >= 0 && Number.isFinite(grace))) throw new TokenError('invalid_input', 'graceSeconds must be a number ≥ 0');
      const { owner } = await mustGet(id);
      // Read again in the owner's turn: a rotation that ran meanwhile has replaced it.
      return oneAtATime(owner, () => rotateNow(id, grace, opts.actor));
    },

    // Revocations run in the owner's turn, like rotations: a rotation with a grace period writes the old
    // token's revokedAt after inserting its replacement, and a revoke that landed in between was overwritten
    // (the revoked token lived on for the grace period), and revokeAll missed the replacement.
    async revoke(id, opts = {}) {
      const { owner } = await mustGet(id);
      return oneAtATime(owner, async () => {
        const stored = await mustGet(id);
        const now = clock();
        const updated = stored.revokedAt !== null && stored.revokedAt <= now ? stored : await store.update(stored.id, { revokedAt: now });
        forget(stored.id);
        if (!updated) throw new TokenError('not_found', notFound(id));
        if (updated !== stored) emit({ type: 'token.revoked', user: opts.actor ?? stored.owner, tokenId: stored.id });
        return publicRecord(updated, pending.get(updated.id));
      });
    },

    async revokeAll(owner, opts = {}) {
      await init();
      return oneAtATime(owner, async () => {
        const now = clock();
        let count = 0;
        for (const t of await store.listByOwner(owner)) {
          if (!isLive(t, now)) continue;
          await store.update(t.id, { revokedAt: now });
          forget(t.id);
          emit({ type: 'token.revoked', user: opts.actor ?? owner, tokenId: t.id });
          count++;
        }
        return count;
      });
    },

    async purgeExpired() {
      await init();
      const days = policy.expiredRetentionDays ?? 0;
      const ids = await store.purge(new Date(clock().getTime() - days * DAY_MS));
      for (const id of ids) {
        forget(id);
        pending.delete(id);
        emit({ type: 'token.purged', user: null, tokenId: id });
      }
      return ids;
    },

    async close() {
      if (purgeTimer) clearInterval(purgeTimer);
      await flush();
      await flushing;
      if (pending.size > 0) await flush();
      await store.close?.();
    },
  };

  if (policy.expiredRetentionDays !== undefined) {
    purgeTimer = setInterval(() => {
      service.purgeExpired().catch((err: unknown) => onError(err, 'scheduled purge failed'));
    }, options.purgeIntervalMs ?? 3_600_000);
    purgeTimer.unref();
  }
  return service;
}
