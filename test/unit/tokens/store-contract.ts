// The TokenStore contract: the same cases run against every store (memory now; SQLite and PostgreSQL join it).
import type { StoredToken, TokenStore } from '../../../src/index.js';

const at = (iso: string) => new Date(iso);

export function token(id: string, overrides: Partial<StoredToken> = {}): StoredToken {
  return {
    id,
    owner: 'alice',
    label: `label ${id}`,
    createdAt: at('2026-01-01T00:00:00Z'),
    expiresAt: null,
    lastAccessed: null,
    lastAccessedIp: null,
    usageCount: 0,
    restrictions: '',
    revokedAt: null,
    salt: 'c2FsdA',
    hash: 'aGFzaA',
    ...overrides,
  };
}

/** Registers the contract cases; `open` gives a fresh, empty store for each case. */
export function tokenStoreContract(name: string, open: () => Promise<TokenStore> | TokenStore): void {
  describe(`${name} honours the TokenStore contract`, () => {
    let store: TokenStore;
    beforeEach(async () => {
      store = await open();
      await store.init?.();
    });
    afterEach(async () => {
      await store.close?.();
    });

    test('insert then get returns an equal token; unknown ids are undefined', async () => {
      const t = token('A1', { expiresAt: at('2026-06-01T00:00:00Z'), restrictions: '[GET]/x' });
      await store.insert(t);
      expect(await store.get('A1')).toEqual(t);
      expect(await store.get('nope')).toBeUndefined();
    });

    test('inserting an existing id fails', async () => {
      await store.insert(token('A1'));
      await expect(Promise.resolve().then(() => store.insert(token('A1')))).rejects.toThrow(/a token with id A1 already exists/);
    });

    test('returned tokens are copies: mutating them changes nothing stored', async () => {
      await store.insert(token('A1'));
      const got = (await store.get('A1')) as { label: string };
      got.label = 'changed';
      expect((await store.get('A1'))!.label).toBe('label A1');
    });

    test('their dates are copies too, in and out: changing a Date in place (setTime) changes nothing stored', async () => {
      const expiresAt = at('2026-06-01T00:00:00Z');
      const inserted = token('A1', { expiresAt, revokedAt: at('2026-05-01T00:00:00Z') });
      await store.insert(inserted);
      expiresAt.setTime(Date.parse('2100-01-01T00:00:00Z'));
      inserted.createdAt.setTime(0);
      const got = (await store.get('A1'))!;
      expect(got.expiresAt!.toISOString()).toBe('2026-06-01T00:00:00.000Z');
      expect(got.createdAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
      got.expiresAt!.setTime(Date.parse('2100-01-01T00:00:00Z'));
      got.revokedAt!.setTime(Date.parse('2100-01-01T00:00:00Z'));
      (await store.listAll())[0]!.createdAt.setTime(0);
      const updated = (await store.update('A1', { label: 'renamed' }))!;
      updated.expiresAt!.setTime(0);
      const used = new Date('2026-03-01T00:00:00Z');
      await store.recordUsage([{ id: 'A1', count: 1, lastAccessed: used, lastAccessedIp: null }]);
      used.setTime(0);
      expect(await store.get('A1')).toMatchObject({
        label: 'renamed',
        createdAt: at('2026-01-01T00:00:00Z'),
        expiresAt: at('2026-06-01T00:00:00Z'),
        revokedAt: at('2026-05-01T00:00:00Z'),
        lastAccessed: at('2026-03-01T00:00:00Z'),
      });
    });

    test('listByOwner and listAll, oldest first; null lists the any-user tokens', async () => {
      await store.insert(token('B', { createdAt: at('2026-01-02T00:00:00Z') }));
      await store.insert(token('A', { createdAt: at('2026-01-01T00:00:00Z') }));
      await store.insert(token('N', { owner: null }));
      await store.insert(token('C', { owner: 'bob' }));
      expect((await store.listByOwner('alice')).map((t) => t.id)).toEqual(['A', 'B']);
      expect((await store.listByOwner(null)).map((t) => t.id)).toEqual(['N']);
      expect((await store.listAll()).map((t) => t.id).sort()).toEqual(['A', 'B', 'C', 'N']);
    });

    test('update changes only the given fields; unknown ids give undefined', async () => {
      await store.insert(token('A1'));
      const updated = await store.update('A1', { label: 'new', revokedAt: at('2026-02-01T00:00:00Z') });
      expect(updated).toEqual(token('A1', { label: 'new', revokedAt: at('2026-02-01T00:00:00Z') }));
      expect(await store.get('A1')).toEqual(updated);
      expect(await store.update('nope', { label: 'x' })).toBeUndefined();
    });

    test('a revocation time can be brought forward, and an expiry cleared (revoking a token in its rotation grace period)', async () => {
      // A rotation with a grace period stores a revocation time in the future; revoking the token then moves it to now.
      await store.insert(token('A1', { expiresAt: at('2026-06-01T00:00:00Z'), revokedAt: at('2026-02-01T00:00:00Z') }));
      const updated = await store.update('A1', { revokedAt: at('2026-01-15T00:00:00Z'), expiresAt: null });
      expect(updated).toMatchObject({ revokedAt: at('2026-01-15T00:00:00Z'), expiresAt: null });
      expect(await store.get('A1')).toMatchObject({ revokedAt: at('2026-01-15T00:00:00Z'), expiresAt: null });
      expect((await store.listByOwner('alice'))[0]).toMatchObject({ revokedAt: at('2026-01-15T00:00:00Z') });
    });

    test('recordUsage adds counts and keeps the latest access', async () => {
      await store.insert(token('A1'));
      await store.recordUsage([{ id: 'A1', count: 3, lastAccessed: at('2026-03-02T00:00:00Z'), lastAccessedIp: '10.0.0.2' }]);
      await store.recordUsage([{ id: 'A1', count: 2, lastAccessed: at('2026-03-01T00:00:00Z'), lastAccessedIp: '10.0.0.1' }]);
      await store.recordUsage([{ id: 'gone', count: 1, lastAccessed: at('2026-03-01T00:00:00Z'), lastAccessedIp: null }]);
      expect(await store.get('A1')).toMatchObject({ usageCount: 5, lastAccessed: at('2026-03-02T00:00:00Z'), lastAccessedIp: '10.0.0.2' });
    });

    test('delete and purge', async () => {
      await store.insert(token('live'));
      await store.insert(token('old', { expiresAt: at('2026-01-10T00:00:00Z') }));
      await store.insert(token('recent', { expiresAt: at('2026-03-10T00:00:00Z') }));
      await store.insert(token('revoked', { revokedAt: at('2026-01-05T00:00:00Z') }));
      expect((await store.purge(at('2026-02-01T00:00:00Z'))).sort()).toEqual(['old', 'revoked']);
      expect((await store.listAll()).map((t) => t.id).sort()).toEqual(['live', 'recent']);
      expect(await store.delete('live')).toBe(true);
      expect(await store.delete('live')).toBe(false);
    });
  });
}
