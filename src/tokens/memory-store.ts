// MemoryTokenStore: the TokenStore for tests and single-process use; nothing survives a restart.
import type { StoredToken, TokenChanges, TokenStore, UsageUpdate } from './store.js';

const copyDate = <D extends Date | null>(date: D): D => (date === null ? date : (new Date(date.getTime()) as D));
/** A copy that shares nothing mutable with `t`: a Date changed in place (`setTime`) is a change too. */
const copy = (t: StoredToken): StoredToken => ({
  ...t,
  createdAt: copyDate(t.createdAt),
  expiresAt: copyDate(t.expiresAt),
  lastAccessed: copyDate(t.lastAccessed),
  revokedAt: copyDate(t.revokedAt),
});

const oldestFirst = (a: StoredToken, b: StoredToken): number => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Keeps tokens in a Map. Records are copied in and out, their dates included, so callers can never change
 * stored state by mutating what they were given (an expiry moved with `setTime` would keep a token alive).
 *
 * @example const tokens = createTokenService({ store: new MemoryTokenStore() });
 */
export class MemoryTokenStore implements TokenStore {
  readonly #tokens = new Map<string, StoredToken>();

  insert(token: StoredToken): void {
    if (this.#tokens.has(token.id)) throw new Error(`a token with id ${token.id} already exists`);
    this.#tokens.set(token.id, copy(token));
  }

  get(id: string): StoredToken | undefined {
    const token = this.#tokens.get(id);
    return token && copy(token);
  }

  listByOwner(owner: string | null): StoredToken[] {
    return this.listAll().filter((t) => t.owner === owner);
  }

  listAll(): StoredToken[] {
    return [...this.#tokens.values()].sort(oldestFirst).map(copy);
  }

  update(id: string, changes: TokenChanges): StoredToken | undefined {
    const token = this.#tokens.get(id);
    if (!token) return undefined;
    const next = copy({ ...token, ...changes });
    this.#tokens.set(id, next);
    return copy(next);
  }

  recordUsage(updates: readonly UsageUpdate[]): void {
    for (const u of updates) {
      const token = this.#tokens.get(u.id);
      if (!token) continue;
      const newer = token.lastAccessed === null || u.lastAccessed >= token.lastAccessed;
      this.#tokens.set(u.id, {
        ...token,
        usageCount: token.usageCount + u.count,
        lastAccessed: newer ? copyDate(u.lastAccessed) : token.lastAccessed,
        lastAccessedIp: newer ? u.lastAccessedIp : token.lastAccessedIp,
      });
    }
  }

  delete(id: string): boolean {
    return this.#tokens.delete(id);
  }

  purge(before: Date): string[] {
    const purged: string[] = [];
    for (const [id, t] of this.#tokens) {
      if ((t.expiresAt !== null && t.expiresAt < before) || (t.revokedAt !== null && t.revokedAt < before)) {
        this.#tokens.delete(id);
        purged.push(id);
      }
    }
    return purged;
  }
}
