import {
  createTokenService,
  MemoryTokenStore,
  RestrictionSyntaxError,
  TokenError,
  evaluateRestrictions,
  type AuditEvent,
  type TokenServiceOptions,
} from '../../../src/index.js';
import { checksum, DEFAULT_PREFIX, generateToken } from '../../../src/tokens/format.js';
import { SecretHasher } from '../../../src/tokens/hash.js';

const DAY = 86_400_000;

/** A service on a memory store with a clock the test moves. */
function setup(options: Partial<TokenServiceOptions> = {}) {
  let now = new Date('2026-01-01T00:00:00Z');
  const events: AuditEvent[] = [];
  const store = new MemoryTokenStore();
  const tokens = createTokenService({ store, clock: () => now, audit: (e) => void events.push(e), ...options });
  return {
    tokens,
    store,
    events,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
    now: () => now,
  };
}

describe('issue', () => {
  test('returns the secret once and a record without it; the store holds only a salted hash', async () => {
    const { tokens, store } = setup();
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'CI', restrictions: '# c\n[get]/rest/x' });
    expect(token).toMatch(/^tfk_/);
    expect(record).toMatchObject({ owner: 'alice', label: 'CI', usageCount: 0, restrictions: '[GET]/rest/x', revokedAt: null, expiresAt: null });
    const secret = token.slice(16, 40);
    expect(JSON.stringify(record)).not.toContain(secret);
    expect(JSON.stringify(store.listAll())).not.toContain(secret);
    expect(await tokens.get(record.id)).toEqual(record);
  });

  test('invalid restrictions throw RestrictionSyntaxError with lines and columns', async () => {
    const { tokens } = setup();
    await expect(tokens.issue({ owner: 'a', label: 'x', restrictions: '/ok\n[FOO]/x' })).rejects.toMatchObject({
      constructor: RestrictionSyntaxError,
      errors: [expect.objectContaining({ line: 2, column: 2, code: 'unknown_method' })],
    });
  });

  test('bad input is a coded TokenError', async () => {
    const { tokens } = setup();
    await expect(tokens.issue({ owner: '', label: 'x' })).rejects.toMatchObject({ code: 'invalid_input', status: 400 });
    await expect(tokens.issue({ owner: 'a', label: '  ' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('nope') })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('2025-01-01') })).rejects.toMatchObject({ code: 'expiry_in_past' });
  });

  test('expiry: explicit, else defaultLifetimeDays, else maxLifetimeDays, else none unless requireExpiry', async () => {
    expect((await setup({ policy: { defaultLifetimeDays: 7, maxLifetimeDays: 30 } }).tokens.issue({ owner: 'a', label: 'x' })).record.expiresAt).toEqual(new Date('2026-01-08T00:00:00Z'));
    expect((await setup({ policy: { maxLifetimeDays: 30 } }).tokens.issue({ owner: 'a', label: 'x' })).record.expiresAt).toEqual(new Date('2026-01-31T00:00:00Z'));
    expect((await setup().tokens.issue({ owner: 'a', label: 'x' })).record.expiresAt).toBeNull();
    await expect(setup({ policy: { requireExpiry: true } }).tokens.issue({ owner: 'a', label: 'x' })).rejects.toMatchObject({ code: 'expiry_required', message: /requireExpiry/ });
  });

  test('a lifetime over maxLifetimeDays is refused, naming the limit', async () => {
    const { tokens } = setup({ policy: { maxLifetimeDays: 30 } });
    await expect(tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('2026-03-01T00:00:00Z') })).rejects.toMatchObject({
      code: 'lifetime_exceeded',
      message: expect.stringMatching(/30 days \(policy.maxLifetimeDays\)/),
    });
  });

  test('maxTokensPerUser counts live tokens only, and names the quota', async () => {
    const { tokens, advance } = setup({ policy: { maxTokensPerUser: 2 } });
    const a = await tokens.issue({ owner: 'alice', label: '1' });
    await tokens.issue({ owner: 'alice', label: '2', expiresAt: new Date('2026-01-02T00:00:00Z') });
    await expect(tokens.issue({ owner: 'alice', label: '3' })).rejects.toMatchObject({ code: 'quota_exceeded', message: /limit is 2 \(policy.maxTokensPerUser\)/ });
    await tokens.issue({ owner: 'bob', label: 'other user' });
    await tokens.revoke(a.record.id);
    await tokens.issue({ owner: 'alice', label: '3' });
    advance(2 * DAY);
    await tokens.issue({ owner: 'alice', label: '4 (2 expired)' });
  });

  test('maxTokensPerUser holds under concurrent issues, and a token in its grace period cannot be rotated again', async () => {
    const { tokens } = setup({ policy: { maxTokensPerUser: 1 } });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => tokens.issue({ owner: 'alice', label: `burst ${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'quota_exceeded' });
    // Other owners are not held up by alice's queue.
    await expect(tokens.issue({ owner: 'bob', label: 'b' })).resolves.toBeDefined();

    const firstId = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ record: { id: string } }>).value.record.id;
    const graced = await tokens.rotate(firstId, { graceSeconds: 3600 });
    await expect(tokens.rotate(firstId, { graceSeconds: 3600 })).rejects.toMatchObject({ code: 'invalid_input', message: /rotated already/ });
    // Concurrent rotations of one token: one replacement, the others refused.
    const concurrent = await Promise.allSettled(Array.from({ length: 5 }, () => tokens.rotate(graced.record.id)));
    expect(concurrent.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of concurrent) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'invalid_input' });
    const live = (await tokens.list('alice')).filter((t) => t.revokedAt === null);
    expect(live).toHaveLength(1);
  });

  test('a failed store init is retried by the next call, not remembered', async () => {
    const store = new MemoryTokenStore();
    let failures = 1;
    Object.assign(store, {
      init: () => {
        if (failures-- > 0) throw new Error('database not up yet');
      },
    });
    const tokens = createTokenService({ store });
    await expect(tokens.list('a')).rejects.toThrow('database not up yet');
    await expect(tokens.issue({ owner: 'a', label: 'x' })).resolves.toBeDefined();
  });

  test('misconfiguration throws a TypeError at start-up', () => {
    expect(() => createTokenService({} as TokenServiceOptions)).toThrow(/options.store/);
    expect(() => createTokenService({ store: { get() {} } } as never)).toThrow(/no insert/);
    expect(() => createTokenService({ store: new MemoryTokenStore(), policy: { maxLifetimeDays: -1 } })).toThrow(/maxLifetimeDays/);
    expect(() => createTokenService({ store: new MemoryTokenStore(), prefix: 'Bad' })).toThrow(/prefix/);
    expect(() => createTokenService({ store: new MemoryTokenStore(), policy: { defaultLifetimeDays: 9, maxLifetimeDays: 3 } })).toThrow(/defaultLifetimeDays/);
  });
});

describe('verify', () => {
  test('a good token verifies, records the use and returns the compiled restrictions', async () => {
    const { tokens } = setup();
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'CI', restrictions: '[GET]/rest/x' });
    const result = await tokens.verify(token, { ip: '10.0.0.9' });
    if (!result.ok) throw new Error(result.reason);
    expect(result.user).toBe('alice');
    expect(evaluateRestrictions(result.restrictions, { method: 'GET', url: '/rest/x' }).allowed).toBe(true);
    expect(result.record).toMatchObject({ id: record.id, usageCount: 1, lastAccessedIp: '10.0.0.9' });
    await tokens.close();
  });

  test.each([
    ['empty', ''],
    ['10 KB', `tfk_${'a'.repeat(10_000)}`],
    ['non-ASCII', 'tfk_ééééééééééééééééééééééééééééééééééééééééé'],
    ['wrong prefix', `ghp_${'a'.repeat(42)}`],
    ['undefined', undefined],
  ])('%s → malformed, without a store call', async (_, text) => {
    const { tokens, store } = setup();
    const spy = jest.spyOn(store, 'get');
    await expect(tokens.verify(text)).resolves.toEqual({ ok: false, reason: 'malformed' });
    expect(spy).not.toHaveBeenCalled();
  });

  test('a checksum flip → checksum, without a store call', async () => {
    const { tokens, store } = setup();
    const { token } = await tokens.issue({ owner: 'a', label: 'x' });
    const spy = jest.spyOn(store, 'get');
    const flipped = token.slice(0, 30) + (token[30] === 'a' ? 'b' : 'a') + token.slice(31);
    await expect(tokens.verify(flipped)).resolves.toEqual({ ok: false, reason: 'checksum' });
    expect(spy).not.toHaveBeenCalled();
  });

  test('a well-formed token that is not ours → unknown; a wrong secret for a real id → unknown', async () => {
    const { tokens } = setup();
    const other = setup();
    const { token } = await other.tokens.issue({ owner: 'a', label: 'x' });
    await expect(tokens.verify(token)).resolves.toEqual({ ok: false, reason: 'unknown' });
    const mine = await tokens.issue({ owner: 'a', label: 'x' });
    const { token: fresh } = await other.tokens.issue({ owner: 'a', label: 'y' });
    // Same id, different secret: a forged token with a valid checksum.
    const body = `tfk_${mine.record.id}${fresh.slice(16, 40)}`;
    await expect(tokens.verify(body + checksum(body))).resolves.toEqual({ ok: false, reason: 'unknown' });
  });

  test('revoked and expired tokens fail', async () => {
    const { tokens, advance } = setup();
    const a = await tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('2026-01-02T00:00:00Z') });
    const b = await tokens.issue({ owner: 'a', label: 'y' });
    await tokens.revoke(b.record.id);
    await expect(tokens.verify(b.token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    advance(DAY);
    await expect(tokens.verify(a.token)).resolves.toEqual({ ok: false, reason: 'expired' });
  });

  test('lowering maxLifetimeDays makes existing longer-lived tokens fail at use with policy', async () => {
    const store = new MemoryTokenStore();
    const clock = () => new Date('2026-01-01T00:00:00Z');
    const before = createTokenService({ store, clock, policy: { maxLifetimeDays: 90 } });
    const long = await before.issue({ owner: 'a', label: 'long', expiresAt: new Date('2026-03-01T00:00:00Z') });
    const short = await before.issue({ owner: 'a', label: 'short', expiresAt: new Date('2026-01-10T00:00:00Z') });
    const after = createTokenService({ store, clock, policy: { maxLifetimeDays: 30 } });
    await expect(after.verify(long.token)).resolves.toEqual({ ok: false, reason: 'policy' });
    await expect(after.verify(short.token)).resolves.toMatchObject({ ok: true });
    const strict = createTokenService({ store, clock, policy: { requireExpiry: true } });
    const forever = await before.issue({ owner: 'a', label: 'forever', expiresAt: new Date('2026-02-01T00:00:00Z') });
    await expect(strict.verify(forever.token)).resolves.toMatchObject({ ok: true });
    const unbounded = await createTokenService({ store, clock }).issue({ owner: 'a', label: 'no expiry' });
    await expect(strict.verify(unbounded.token)).resolves.toEqual({ ok: false, reason: 'policy' });
  });

  test('a user-bound token is valid only for its owner (NFKC and case folded)', async () => {
    const { tokens } = setup();
    const { token } = await tokens.issue({ owner: 'Ａlice', label: 'x' });
    await expect(tokens.verify(token, { username: 'ALICE' })).resolves.toMatchObject({ ok: true, user: 'Ａlice' });
    await expect(tokens.verify(token, { username: 'bob' })).resolves.toEqual({ ok: false, reason: 'user_mismatch' });
    await expect(tokens.verify(token)).resolves.toMatchObject({ ok: true, user: 'Ａlice' });
  });

  test('an any-user token acts as the Basic username and needs one', async () => {
    const { tokens } = setup();
    const { token } = await tokens.issue({ owner: null, label: 'shared' });
    await expect(tokens.verify(token, { username: 'carol' })).resolves.toMatchObject({ ok: true, user: 'carol' });
    await expect(tokens.verify(token)).resolves.toEqual({ ok: false, reason: 'user_required' });
  });

  test('1,000 concurrent verifications count exactly 1,000 after close()', async () => {
    const store = new MemoryTokenStore();
    const tokens = createTokenService({ store, usageFlushMs: 5 });
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => tokens.verify(token, { ip: `10.0.${i >> 8}.${i & 255}` })));
    expect(results.every((r) => r.ok)).toBe(true);
    await tokens.close();
    expect(store.get(record.id)!.usageCount).toBe(1000);
  });

  test('a Date handed out is not the one written: changing a record\'s lastAccessed in place changes nothing stored', async () => {
    const store = new MemoryTokenStore();
    let now = new Date('2026-02-03T04:05:06.007Z');
    const tokens = createTokenService({ store, clock: () => new Date(now) });
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    const first = await tokens.verify(token, { ip: '10.0.0.1' });
    now = new Date('2026-02-03T04:05:07.000Z');
    const second = await tokens.verify(token, { ip: '10.0.0.2' });
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.record.lastAccessed!.toISOString()).toBe('2026-02-03T04:05:07.000Z');
    const listed = await tokens.get(record.id);
    expect(listed).toMatchObject({ usageCount: 2, lastAccessed: new Date('2026-02-03T04:05:07.000Z'), lastAccessedIp: '10.0.0.2' });
    for (const date of [first.record.lastAccessed!, second.record.lastAccessed!, listed!.lastAccessed!]) date.setTime(0);
    await tokens.close();
    expect(store.get(record.id)).toMatchObject({ usageCount: 2, lastAccessed: new Date('2026-02-03T04:05:07.000Z'), lastAccessedIp: '10.0.0.2' });
  });

  test('a failing usage write is retried, not lost', async () => {
    const store = new MemoryTokenStore();
    const errors: string[] = [];
    const tokens = createTokenService({ store, usageFlushMs: 1, onError: (_e, context) => void errors.push(context) });
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    const real = store.recordUsage.bind(store);
    let failures = 1;
    jest.spyOn(store, 'recordUsage').mockImplementation((updates) => {
      if (failures-- > 0) throw new Error('database is locked');
      real(updates);
    });
    await tokens.verify(token, { ip: '10.0.0.1' });
    await new Promise((r) => setTimeout(r, 20));
    const later = await tokens.verify(token, { ip: '10.0.0.2' });
    await tokens.close();
    expect(errors).toEqual(['could not record token usage']);
    // The retried use is added to the newer one, whose time and address are the later ones.
    expect(later.ok && store.get(record.id)).toMatchObject({ usageCount: 2, lastAccessed: later.ok ? later.record.lastAccessed : null, lastAccessedIp: '10.0.0.2' });
  });
});

describe('the verified-row cache', () => {
  test('keeps to monotonic time: a wall clock that steps back does not keep a row changed behind the service fresh', async () => {
    const store = new MemoryTokenStore();
    const tokens = createTokenService({ store, recordCacheMs: 50 });
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    expect((await tokens.verify(token)).ok).toBe(true);
    // Revoked in the store two minutes ago, behind the service's back (another instance did it).
    store.update(record.id, { revokedAt: new Date(Date.now() - 120_000) });
    // The wall clock steps back a minute (NTP, a resumed VM); timers and performance.now() stay real.
    jest.useFakeTimers({ doNotFake: ['performance', 'hrtime', 'nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      jest.setSystemTime(Date.now() - 60_000);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
    } finally {
      jest.useRealTimers();
    }
    await tokens.close();
  });

  test('a context that is not an object is no context, and an address that is not a string is none (verify never throws)', async () => {
    const store = new MemoryTokenStore();
    const tokens = createTokenService({ store });
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    for (const context of [null, 42, 'alice']) {
      await expect(tokens.verify(token, context as never)).resolves.toMatchObject({ ok: true, user: 'a' });
      expect(tokens.verifySync(token, context as never)).toMatchObject({ ok: true, user: 'a' });
    }
    await expect(tokens.verify(token, { ip: { toString: () => 'x' } } as never)).resolves.toMatchObject({ ok: true, record: { lastAccessedIp: null } });
    await tokens.close();
    expect(store.get(record.id)).toMatchObject({ usageCount: 7, lastAccessedIp: null });
  });

  test('a change through the service takes effect at once; one made in the store behind it within recordCacheMs', async () => {
    const { tokens, store } = setup({ recordCacheMs: 200 });
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'CI' });
    const get = jest.spyOn(store, 'get');
    expect((await tokens.verify(token)).ok).toBe(true);
    expect((await tokens.verify(token)).ok).toBe(true);
    expect(get).toHaveBeenCalledTimes(1);
    // Another process revokes it in the shared store: the cached row serves until it is 200 ms old.
    store.update(record.id, { revokedAt: new Date('2025-12-31T00:00:00Z') });
    const started = Date.now();
    let result = await tokens.verify(token);
    while (result.ok && Date.now() - started < 1000) result = await tokens.verify(token);
    expect(result).toEqual({ ok: false, reason: 'revoked' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('still hashes and compares the secret, and checks expiry, on a cached row', async () => {
    const { tokens, advance } = setup({ recordCacheMs: 1000 });
    const { token } = await tokens.issue({ owner: 'alice', label: 'CI', expiresAt: new Date('2026-01-02T00:00:00Z') });
    expect((await tokens.verify(token)).ok).toBe(true);
    const secret = token.slice(16, 40);
    const wrongSecret = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    const body = token.slice(0, 16) + wrongSecret;
    expect(await tokens.verify(body + checksum(body))).toEqual({ ok: false, reason: 'unknown' });
    advance(2 * DAY);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  test('a read in flight while the token is revoked is not cached', async () => {
    const { tokens, store } = setup({ recordCacheMs: 1000 });
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'CI' });
    const original = store.get.bind(store);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The memory store answers synchronously; this read answers later, as a database would.
    const delayed = async (id: string) => {
      const row = original(id);
      await gate;
      return row;
    };
    jest.spyOn(store, 'get').mockImplementationOnce(delayed as never);
    const inFlight = tokens.verify(token);
    await tokens.revoke(record.id);
    release();
    expect((await inFlight).ok).toBe(true);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('verifySync answers without waiting only when no store read is needed, and records the use', async () => {
    const { tokens, store } = setup({ recordCacheMs: 1000 });
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'CI' });
    expect(tokens.verifySync('garbage')).toEqual({ ok: false, reason: 'malformed' });
    // Not verified yet: the store must be read, so verifySync does not answer.
    expect(tokens.verifySync(token)).toBeUndefined();
    expect((await tokens.verify(token)).ok).toBe(true);
    const get = jest.spyOn(store, 'get');
    expect(tokens.verifySync(token, { username: 'ALICE', ip: '10.0.0.1' })).toMatchObject({ ok: true, user: 'alice' });
    expect(tokens.verifySync(token, { username: 'bob' })).toEqual({ ok: false, reason: 'user_mismatch' });
    expect(get).not.toHaveBeenCalled();
    expect(await tokens.get(record.id)).toMatchObject({ usageCount: 2, lastAccessedIp: '10.0.0.1' });
    // Another text for the same id (a forged secret) is never answered from the cache.
    const body = token.slice(0, 16) + 'x'.repeat(24);
    expect(tokens.verifySync(body + checksum(body))).toBeUndefined();
    expect(await tokens.verify(body + checksum(body))).toEqual({ ok: false, reason: 'unknown' });
    await tokens.revoke(record.id);
    expect(tokens.verifySync(token)).toBeUndefined();
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('tokens used in turn are each answered from the cache; a revocation stops the last one used at once', async () => {
    const { tokens, store } = setup({ recordCacheMs: 1000 });
    const a = await tokens.issue({ owner: 'alice', label: 'a' });
    const b = await tokens.issue({ owner: 'bob', label: 'b' });
    expect((await tokens.verify(a.token)).ok).toBe(true);
    expect((await tokens.verify(b.token)).ok).toBe(true);
    const get = jest.spyOn(store, 'get');
    for (const [token, user] of [[a.token, 'alice'], [a.token, 'alice'], [b.token, 'bob'], [a.token, 'alice'], [b.token, 'bob'], [b.token, 'bob']]) {
      expect(tokens.verifySync(token)).toMatchObject({ ok: true, user });
    }
    expect(get).not.toHaveBeenCalled();
    // b was the last one used; a's text is not b's, nor is a forged text with b's id.
    const forged = b.token.slice(0, 16) + 'y'.repeat(24);
    expect(tokens.verifySync(forged + checksum(forged))).toBeUndefined();
    await tokens.revoke(b.record.id);
    expect(tokens.verifySync(b.token)).toBeUndefined();
    expect(await tokens.verify(b.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(tokens.verifySync(a.token)).toMatchObject({ ok: true, user: 'alice' });
  });

  test('recordCacheMs 0 reads the store on every call; over 1000 is refused', async () => {
    const { tokens, store } = setup({ recordCacheMs: 0 });
    const { token } = await tokens.issue({ owner: 'alice', label: 'CI' });
    const get = jest.spyOn(store, 'get');
    await tokens.verify(token);
    await tokens.verify(token);
    expect(get).toHaveBeenCalledTimes(2);
    expect(() => createTokenService({ store, recordCacheMs: 5000 })).toThrow(/recordCacheMs.*within 1 s/);
  });
});

describe('update, rotate, revoke, purge', () => {
  test('update edits label, expiry (within policy) and restrictions', async () => {
    const { tokens, events } = setup({ policy: { maxLifetimeDays: 30 } });
    const { record } = await tokens.issue({ owner: 'a', label: 'x' });
    const updated = await tokens.update(record.id, { label: 'y', restrictions: '[post]/z', expiresAt: new Date('2026-01-20T00:00:00Z') }, { actor: 'admin' });
    expect(updated).toMatchObject({ label: 'y', restrictions: '[POST]/z', expiresAt: new Date('2026-01-20T00:00:00Z') });
    await expect(tokens.update(record.id, { expiresAt: new Date('2026-03-01T00:00:00Z') })).rejects.toMatchObject({ code: 'lifetime_exceeded' });
    await expect(tokens.update(record.id, { expiresAt: null })).rejects.toMatchObject({ code: 'expiry_required' });
    await expect(tokens.update(record.id, { restrictions: '[' })).rejects.toBeInstanceOf(RestrictionSyntaxError);
    await expect(tokens.update('nope', { label: 'z' })).rejects.toMatchObject({ code: 'not_found', status: 404 });
    expect(events.filter((e) => e.type === 'token.updated')).toEqual([expect.objectContaining({ user: 'admin', tokenId: record.id, outcome: 'success' })]);
  });

  test('an id that names no token is repeated in the error only when it has an id\'s shape: a whole token passed by mistake is not', async () => {
    const { tokens } = setup();
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' });
    await tokens.revoke(record.id);
    await expect(tokens.get('AbCdEf123456')).resolves.toBeUndefined();
    await expect(tokens.revoke('AbCdEf123456')).rejects.toMatchObject({ code: 'not_found', message: 'no token with id "AbCdEf123456"' });
    for (const call of [() => tokens.revoke(token), () => tokens.update(token, { label: 'y' }), () => tokens.rotate(token)]) {
      const err = (await call().catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('not_found');
      expect(err.message).toMatch(/looks like a whole token/);
      expect(err.message).not.toContain(token.slice(16, 40));
    }
    const odd = (await tokens.revoke('x'.repeat(500)).catch((e: unknown) => e)) as Error;
    expect(odd.message).toBe('no token with that id: a token id is 12 letters and digits (the text given is not repeated here)');
  });

  test('secure mode: nothing can be edited', async () => {
    const { tokens } = setup({ policy: { secureMode: true } });
    const { record } = await tokens.issue({ owner: 'a', label: 'x' });
    await expect(tokens.update(record.id, { label: 'y' })).rejects.toMatchObject({ code: 'secure_mode', status: 409 });
    expect((await tokens.get(record.id))!.label).toBe('x');
  });

  test('rotate: a new secret; the old one dies at once, or after the grace period', async () => {
    const { tokens, advance } = setup();
    const old = await tokens.issue({ owner: 'a', label: 'x', restrictions: '/r' });
    const rotated = await tokens.rotate(old.record.id);
    expect(rotated.token).not.toBe(old.token);
    expect(rotated.record).toMatchObject({ label: 'x', restrictions: '/r', owner: 'a' });
    await expect(tokens.verify(old.token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    await expect(tokens.verify(rotated.token)).resolves.toMatchObject({ ok: true });

    const graced = await tokens.rotate(rotated.record.id, { graceSeconds: 60 });
    await expect(tokens.verify(rotated.token)).resolves.toMatchObject({ ok: true });
    advance(61_000);
    await expect(tokens.verify(rotated.token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    await expect(tokens.verify(graced.token)).resolves.toMatchObject({ ok: true });
  });

  test('rotate checks the lifetime policy anew and does not count against the quota', async () => {
    const store = new MemoryTokenStore();
    const clock = () => new Date('2026-01-01T00:00:00Z');
    const lax = createTokenService({ store, clock });
    const strict = createTokenService({ store, clock, policy: { maxLifetimeDays: 30, maxTokensPerUser: 1 } });
    // A token that outlives today's policy cannot be rotated into a new one with the same expiry…
    const long = await lax.issue({ owner: 'a', label: 'x', expiresAt: new Date('2026-03-01T00:00:00Z') });
    await expect(strict.rotate(long.record.id)).rejects.toMatchObject({ code: 'lifetime_exceeded' });
    // …one without an expiry gets the policy's default, and a replacement never hits the quota.
    const forever = await lax.issue({ owner: 'b', label: 'y' });
    const rotated = await strict.rotate(forever.record.id);
    expect(rotated.record).toMatchObject({ owner: 'b', expiresAt: new Date('2026-01-31T00:00:00Z') });
    await expect(strict.issue({ owner: 'b', label: 'z' })).rejects.toMatchObject({ code: 'quota_exceeded' });
  });

  test('revokeAll revokes every live token of one owner', async () => {
    const { tokens } = setup();
    const a1 = await tokens.issue({ owner: 'a', label: '1' });
    const a2 = await tokens.issue({ owner: 'a', label: '2' });
    const b = await tokens.issue({ owner: 'b', label: '3' });
    expect(await tokens.revokeAll('a')).toBe(2);
    for (const t of [a1, a2]) await expect(tokens.verify(t.token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    await expect(tokens.verify(b.token)).resolves.toMatchObject({ ok: true });
    expect(await tokens.revokeAll('a')).toBe(0);
  });

  test('purgeExpired deletes tokens that ended more than expiredRetentionDays ago', async () => {
    const { tokens, advance, events } = setup({ policy: { expiredRetentionDays: 7 } });
    const soon = await tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('2026-01-02T00:00:00Z') });
    const live = await tokens.issue({ owner: 'a', label: 'y' });
    advance(5 * DAY);
    expect(await tokens.purgeExpired()).toEqual([]);
    advance(5 * DAY);
    expect(await tokens.purgeExpired()).toEqual([soon.record.id]);
    expect(await tokens.get(soon.record.id)).toBeUndefined();
    expect(await tokens.get(live.record.id)).toBeDefined();
    expect(events.map((e) => e.type)).toEqual(['token.created', 'token.created', 'token.purged']);
    await tokens.close();
  });

  test('with expiredRetentionDays the purge also runs on a schedule (an unref()ed timer)', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const store = new MemoryTokenStore();
    const tokens = createTokenService({ store, clock: () => now, policy: { expiredRetentionDays: 1 }, purgeIntervalMs: 5 });
    const { record } = await tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date('2026-01-02T00:00:00Z') });
    now = new Date('2026-01-05T00:00:00Z');
    for (let i = 0; i < 100 && store.get(record.id); i++) await new Promise((r) => setTimeout(r, 5));
    expect(store.get(record.id)).toBeUndefined();
    await tokens.close();
  });

  test('lists: per owner, any-user, all', async () => {
    const { tokens } = setup();
    await tokens.issue({ owner: 'a', label: '1' });
    await tokens.issue({ owner: null, label: '2' });
    expect((await tokens.list('a')).map((r) => r.label)).toEqual(['1']);
    expect((await tokens.list(null)).map((r) => r.label)).toEqual(['2']);
    expect(await tokens.listAll()).toHaveLength(2);
  });
});

describe('audit', () => {
  test('every lifecycle change emits an event without secrets', async () => {
    const { tokens, events } = setup();
    const { token, record } = await tokens.issue({ owner: 'a', label: 'x' }, { actor: 'admin' });
    await tokens.update(record.id, { label: 'y' });
    const rotated = await tokens.rotate(record.id);
    await tokens.revoke(rotated.record.id);
    expect(events.map((e) => [e.type, e.user])).toEqual([
      ['token.created', 'admin'],
      ['token.updated', 'a'],
      ['token.created', 'a'],
      ['token.rotated', 'a'],
      ['token.revoked', 'a'],
    ]);
    const text = JSON.stringify(events);
    for (const t of [token, rotated.token]) expect(text).not.toContain(t.slice(16, 40));
  });

  test('events are frozen and their time is a Date of their own, even when the clock hands out one shared Date', async () => {
    const shared = new Date('2026-03-04T05:06:07.000Z');
    const events: AuditEvent[] = [];
    const tokens = createTokenService({ store: new MemoryTokenStore(), clock: () => shared, audit: (e) => void events.push(e) });
    await tokens.issue({ owner: 'a', label: 'x' });
    const [created] = events;
    expect(Object.isFrozen(created)).toBe(true);
    expect(() => {
      (created as { user: string | null }).user = 'mallory';
    }).toThrow(TypeError);
    expect(created!.at).not.toBe(shared);
    shared.setTime(0);
    expect(created).toMatchObject({ type: 'token.created', user: 'a' });
    expect(created!.at.toISOString()).toBe('2026-03-04T05:06:07.000Z');
  });

  test('a failing audit hook never fails the call; it is reported', async () => {
    const errors: string[] = [];
    const tokens = createTokenService({
      store: new MemoryTokenStore(),
      audit: () => {
        throw new Error('sink down');
      },
      onError: (_e, context) => void errors.push(context),
    });
    await expect(tokens.issue({ owner: 'a', label: 'x' })).resolves.toBeDefined();
    const async = createTokenService({ store: new MemoryTokenStore(), audit: () => Promise.reject(new Error('down')), onError: (_e, c) => void errors.push(c) });
    await async.issue({ owner: 'a', label: 'x' });
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual(['audit hook failed', 'audit hook failed']);
  });

  test('TokenError carries code, status and a message naming the rule', () => {
    const err = new TokenError('quota_exceeded', 'x');
    expect(err).toMatchObject({ name: 'TokenError', code: 'quota_exceeded', status: 409 });
  });
});

describe('revocation during a rotation grace period', () => {
  test('revoking the old token while its grace period runs stops it at once; its replacement stays valid', async () => {
    const { tokens, events, now } = setup({ recordCacheMs: 1000 });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    expect((await tokens.verify(old.token)).ok).toBe(true);
    const replacement = await tokens.rotate(old.record.id, { graceSeconds: 3600 });
    // In the grace period both work.
    expect((await tokens.verify(old.token)).ok).toBe(true);
    expect((await tokens.verify(replacement.token)).ok).toBe(true);
    const revoked = await tokens.revoke(old.record.id, { actor: 'admin' });
    // Brought forward to now, not left at the end of the grace period.
    expect(revoked.revokedAt).toEqual(now());
    expect((await tokens.get(old.record.id))!.revokedAt).toEqual(now());
    expect(await tokens.verify(old.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(tokens.verifySync(old.token) ?? (await tokens.verify(old.token))).toEqual({ ok: false, reason: 'revoked' });
    expect(await tokens.verify(replacement.token)).toMatchObject({ ok: true, user: 'alice' });
    expect(events.filter((e) => e.type === 'token.revoked')).toEqual([expect.objectContaining({ user: 'admin', tokenId: old.record.id })]);
  });

  test('revoking the replacement during the grace period stops the replacement at once', async () => {
    const { tokens } = setup({ recordCacheMs: 1000 });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    const replacement = await tokens.rotate(old.record.id, { graceSeconds: 3600 });
    expect((await tokens.verify(replacement.token)).ok).toBe(true);
    await tokens.revoke(replacement.record.id);
    expect(await tokens.verify(replacement.token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('revokeAll during a grace period stops the old token and its replacement at once', async () => {
    const { tokens } = setup({ recordCacheMs: 1000 });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    const replacement = await tokens.rotate(old.record.id, { graceSeconds: 3600 });
    expect((await tokens.verify(old.token)).ok).toBe(true);
    expect((await tokens.verify(replacement.token)).ok).toBe(true);
    expect(await tokens.revokeAll('alice')).toBe(2);
    expect(await tokens.verify(old.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await tokens.verify(replacement.token)).toEqual({ ok: false, reason: 'revoked' });
  });

  /** A memory store whose inserts wait for `release()`, so a call can land while a rotation is half done. */
  function slowInserts() {
    const store = new MemoryTokenStore();
    let slow = false;
    let release: () => void = () => undefined;
    let began: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (began = resolve));
    const insert = store.insert.bind(store);
    store.insert = async (token) => {
      if (slow) {
        began();
        await new Promise<void>((resolve) => (release = resolve));
      }
      return insert(token);
    };
    /** `started` resolves when an insert begins to wait. */
    return { store, slowDown: () => void (slow = true), release: () => release(), started };
  }

  test('a revoke that lands while a rotation is inserting the replacement is not undone by it', async () => {
    const { store, slowDown, release, started } = slowInserts();
    const tokens = createTokenService({ store });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    slowDown();
    const rotation = tokens.rotate(old.record.id, { graceSeconds: 3600 });
    await started;
    const revocation = tokens.revoke(old.record.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await Promise.all([rotation, revocation]);
    expect(await tokens.verify(old.token)).toEqual({ ok: false, reason: 'revoked' });
    await tokens.close();
  });

  test('revokeAll that lands while a rotation is inserting the replacement stops the replacement too', async () => {
    const { store, slowDown, release, started } = slowInserts();
    const tokens = createTokenService({ store });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    slowDown();
    const rotation = tokens.rotate(old.record.id, { graceSeconds: 3600 });
    await started;
    const all = tokens.revokeAll('alice');
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    const [replacement] = await Promise.all([rotation, all]);
    expect(await tokens.verify(old.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await tokens.verify(replacement.token)).toEqual({ ok: false, reason: 'revoked' });
    await tokens.close();
  });

  test('a rotation keeps an earlier revocation written by another instance meanwhile', async () => {
    const { store, slowDown, release, started } = slowInserts();
    const tokens = createTokenService({ store, recordCacheMs: 0 });
    const other = createTokenService({ store, recordCacheMs: 0 });
    const old = await tokens.issue({ owner: 'alice', label: 'CI' });
    slowDown();
    const rotation = tokens.rotate(old.record.id, { graceSeconds: 3600 });
    await started;
    await other.revoke(old.record.id);
    release();
    await rotation;
    expect(await tokens.verify(old.token)).toEqual({ ok: false, reason: 'revoked' });
    await Promise.all([tokens.close(), other.close()]);
  });
});

describe('every mutator drops the cached row at once (within recordCacheMs)', () => {
  // recordCacheMs is at its maximum, so a row not dropped would still be served by the second verify.
  const cached = async (options: Partial<TokenServiceOptions> = {}) => {
    const s = setup({ recordCacheMs: 1000, ...options });
    const issued = await s.tokens.issue({ owner: 'alice', label: 'CI', expiresAt: new Date('2026-01-05T00:00:00Z') });
    // Fills the row cache (and the repeat shortcut) for this token.
    expect((await s.tokens.verify(issued.token)).ok).toBe(true);
    expect(s.tokens.verifySync(issued.token)).toMatchObject({ ok: true });
    return { ...s, ...issued };
  };

  test('update: new restrictions and a new expiry are seen by the next verify', async () => {
    const { tokens, token, record, advance } = await cached();
    await tokens.update(record.id, { restrictions: '[GET]/rest/only' });
    const after = await tokens.verify(token);
    expect(after).toMatchObject({ ok: true, record: { restrictions: '[GET]/rest/only' } });
    if (!after.ok) return;
    expect(evaluateRestrictions(after.restrictions, { method: 'DELETE', url: '/rest/only' }).allowed).toBe(false);
    await tokens.update(record.id, { expiresAt: new Date('2026-01-01T00:00:01Z') });
    advance(2000);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  test('rotate', async () => {
    const { tokens, token, record } = await cached();
    await tokens.rotate(record.id);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('revoke', async () => {
    const { tokens, token, record } = await cached();
    await tokens.revoke(record.id);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('revokeAll', async () => {
    const { tokens, token } = await cached();
    expect(await tokens.revokeAll('alice')).toBe(1);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('purgeExpired: a purged token is unknown, not answered from its cached row', async () => {
    const { tokens, token, record, advance } = await cached({ policy: { expiredRetentionDays: 1 } });
    // The service clock moves on; the cached row is still fresh by the monotonic clock.
    advance(10 * DAY);
    expect(await tokens.purgeExpired()).toEqual([record.id]);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'unknown' });
    await tokens.close();
  });
});

describe('lifetime policy boundaries (maxLifetimeDays: 30)', () => {
  const HOUR = 3_600_000;
  const start = new Date('2026-01-01T00:00:00Z').getTime();

  test('at issue: exactly 30 days is accepted; 30 days + 1 h, or + 1 ms, is lifetime_exceeded', async () => {
    const { tokens } = setup({ policy: { maxLifetimeDays: 30 } });
    for (const over of [HOUR, 1]) {
      await expect(tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date(start + 30 * DAY + over) })).rejects.toMatchObject({ code: 'lifetime_exceeded', status: 422 });
    }
    const exact = await tokens.issue({ owner: 'a', label: 'x', expiresAt: new Date(start + 30 * DAY) });
    expect(exact.record.expiresAt).toEqual(new Date(start + 30 * DAY));
    await expect(tokens.verify(exact.token)).resolves.toMatchObject({ ok: true });
  });

  test('at use: a stored record whose lifetime is over today\'s limit is refused with policy; exactly the limit verifies', async () => {
    const store = new MemoryTokenStore();
    const hasher = new SecretHasher();
    // Records written to the store directly (issued under a looser policy, or by another tool), created a day ago.
    const createdAt = new Date(start - DAY);
    const plant = (expiresAt: Date): string => {
      const { token, id, secret } = generateToken(DEFAULT_PREFIX);
      store.insert({ id, owner: 'a', label: 'planted', createdAt, expiresAt, lastAccessed: null, lastAccessedIp: null, usageCount: 0, restrictions: '', revokedAt: null, ...hasher.hash(secret) });
      return token;
    };
    const overByHour = plant(new Date(createdAt.getTime() + 30 * DAY + HOUR));
    const overByMs = plant(new Date(createdAt.getTime() + 30 * DAY + 1));
    const exact = plant(new Date(createdAt.getTime() + 30 * DAY));
    const tokens = createTokenService({ store, clock: () => new Date(start), policy: { maxLifetimeDays: 30 } });
    // Less than 30 days remain for each: the lifetime counts from createdAt, not from now.
    await expect(tokens.verify(overByHour)).resolves.toEqual({ ok: false, reason: 'policy' });
    await expect(tokens.verify(overByMs)).resolves.toEqual({ ok: false, reason: 'policy' });
    await expect(tokens.verify(exact)).resolves.toMatchObject({ ok: true, user: 'a' });
    // A cached row is still checked: a repeat is refused the same way.
    await expect(tokens.verify(overByHour)).resolves.toEqual({ ok: false, reason: 'policy' });
    expect(tokens.verifySync(overByHour) ?? { ok: false, reason: 'policy' }).toEqual({ ok: false, reason: 'policy' });
  });
});

describe('any-user tokens need a non-empty user name', () => {
  test("username '' or undefined gives user_required, fresh or cached", async () => {
    const { tokens } = setup({ recordCacheMs: 1000 });
    const { token } = await tokens.issue({ owner: null, label: 'shared' });
    await expect(tokens.verify(token, { username: '' })).resolves.toEqual({ ok: false, reason: 'user_required' });
    await expect(tokens.verify(token, { username: undefined })).resolves.toEqual({ ok: false, reason: 'user_required' });
    await expect(tokens.verify(token, {})).resolves.toEqual({ ok: false, reason: 'user_required' });
    await expect(tokens.verify(token, { username: 'carol' })).resolves.toMatchObject({ ok: true, user: 'carol' });
    // Now answered from the cached row: the same checks.
    expect(tokens.verifySync(token, { username: '' })).toEqual({ ok: false, reason: 'user_required' });
    expect(tokens.verifySync(token, { username: undefined })).toEqual({ ok: false, reason: 'user_required' });
  });

  test("a user-bound token with username '' is user_mismatch (an empty name is not its owner)", async () => {
    const { tokens } = setup();
    const { token } = await tokens.issue({ owner: 'alice', label: 'x' });
    await expect(tokens.verify(token, { username: '' })).resolves.toEqual({ ok: false, reason: 'user_mismatch' });
  });
});
