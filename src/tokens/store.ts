// The TokenStore interface (SPEC §4): what a token store keeps and the operations the service needs.

/** A value or a promise of it: store methods may be synchronous or asynchronous. */
export type MaybePromise<T> = T | Promise<T>;

/** A token as lists and logs see it. It never holds the secret, nor anything the secret can be recovered from. */
export interface TokenRecord {
  /** The public token id (part of the token text, shown in lists and audit events). */
  readonly id: string;
  /** The user the token acts as; `null` for an any-user token (used with HTTP Basic only). */
  readonly owner: string | null;
  readonly label: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastAccessed: Date | null;
  readonly lastAccessedIp: string | null;
  readonly usageCount: number;
  /** The restriction text, canonical (see `formatRestrictions`); '' when unrestricted. */
  readonly restrictions: string;
  readonly revokedAt: Date | null;
}

/** What a store keeps: the record plus the salted hash of the secret. */
export interface StoredToken extends TokenRecord {
  readonly salt: string;
  readonly hash: string;
}

/** Fields `update` may change. */
export type TokenChanges = Partial<Pick<StoredToken, 'label' | 'expiresAt' | 'restrictions' | 'revokedAt' | 'salt' | 'hash'>>;

/** The SQL column of each field `update` may change (the same in every SQL store). */
export const CHANGE_COLUMNS: Readonly<Record<keyof TokenChanges, string>> = {
  label: 'label',
  expiresAt: 'expires_at',
  restrictions: 'restrictions',
  revokedAt: 'revoked_at',
  salt: 'salt',
  hash: 'hash',
};

/** Usage to add to a token: `count` more uses, the latest at `lastAccessed` from `lastAccessedIp`. */
export interface UsageUpdate {
  readonly id: string;
  readonly count: number;
  readonly lastAccessed: Date;
  readonly lastAccessedIp: string | null;
}

/**
 * Where tokens live. Methods may return values or promises. Implementations: `MemoryTokenStore`
 * (tests, single process), and the SQLite and PostgreSQL stores.
 *
 * A store must make an acknowledged `insert`, `update` or `delete` durable before it returns, and
 * `recordUsage` must add counts atomically (never read-modify-write across processes).
 */
export interface TokenStore {
  /** Prepares the store (creates tables, runs migrations). Called once by the service before first use. */
  init?(): MaybePromise<void>;
  /** Adds a new token. Ids are unique; inserting an existing id is an error. */
  insert(token: StoredToken): MaybePromise<void>;
  /** One token by id, or undefined. */
  get(id: string): MaybePromise<StoredToken | undefined>;
  /** The tokens of one owner (`null`: the any-user tokens), oldest first. */
  listByOwner(owner: string | null): MaybePromise<StoredToken[]>;
  /** Every token, oldest first. */
  listAll(): MaybePromise<StoredToken[]>;
  /** Applies changes; returns the new token, or undefined when the id is unknown. */
  update(id: string, changes: TokenChanges): MaybePromise<StoredToken | undefined>;
  /** Adds usage counts and moves last access forward (never backward). Unknown ids are ignored. */
  recordUsage(updates: readonly UsageUpdate[]): MaybePromise<void>;
  /** Deletes one token; true when it existed. */
  delete(id: string): MaybePromise<boolean>;
  /** Deletes tokens that expired or were revoked before `before`; returns their ids. */
  purge(before: Date): MaybePromise<string[]>;
  /** Releases resources. The service calls it from its own `close()`. */
  close?(): MaybePromise<void>;
}

const REQUIRED: readonly (keyof TokenStore)[] = ['insert', 'get', 'listByOwner', 'listAll', 'update', 'recordUsage', 'delete', 'purge'];

/** Checks the shape of a store at start-up, naming what is missing. */
export function checkStore(store: unknown): TokenStore {
  if (typeof store !== 'object' || store === null) {
    throw new TypeError('options.store must be a TokenStore, such as new MemoryTokenStore() or new SqliteTokenStore(path)');
  }
  const missing = REQUIRED.filter((m) => typeof (store as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) throw new TypeError(`options.store is not a TokenStore: it has no ${missing.join(', ')} method`);
  return store as TokenStore;
}
