import { SecretHasher } from '../../../src/tokens/hash.js';

jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

describe('SecretHasher', () => {
  test('salted: the same secret hashes differently each time, and matches both', () => {
    const hasher = new SecretHasher();
    const a = hasher.hash('s3cret');
    const b = hasher.hash('s3cret');
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(hasher.matches('s3cret', a)).toBe(true);
    expect(hasher.matches('s3cret', b)).toBe(true);
    expect(hasher.matches('s3creT', a)).toBe(false);
    expect(JSON.stringify(a)).not.toContain('s3cret');
  });

  test('with a pepper, a hash only matches under the same pepper', () => {
    const peppered = new SecretHasher('a-server-side-pepper-of-32-bytes!');
    const stored = peppered.hash('s3cret');
    expect(peppered.matches('s3cret', stored)).toBe(true);
    expect(new SecretHasher().matches('s3cret', stored)).toBe(false);
    expect(new SecretHasher('another-pepper-of-enough-bytes').matches('s3cret', stored)).toBe(false);
  });

  test('a binary pepper works like a string one', () => {
    const hasher = new SecretHasher(new Uint8Array(32).fill(7));
    expect(hasher.matches('s3cret', hasher.hash('s3cret'))).toBe(true);
  });

  test('a short pepper is a programmer error', () => {
    expect(() => new SecretHasher('short')).toThrow(/at least 16 bytes/);
  });

  test('a corrupted stored hash does not match (and does not throw)', () => {
    const hasher = new SecretHasher();
    const stored = hasher.hash('s3cret');
    expect(hasher.matches('s3cret', { ...stored, hash: stored.hash.slice(0, 10) })).toBe(false);
  });
});

describe('SecretHasher compares in constant time', () => {
  // jest.mock (hoisted above the imports) wraps the real node:crypto, so the spy intercepts
  // timingSafeEqual however hash.ts binds it (a named import, a namespace, a destructured require).
  const crypto = jest.requireMock<{ timingSafeEqual: jest.Mock }>('node:crypto');
  beforeEach(() => crypto.timingSafeEqual.mockClear());

  test('the hash comparison is crypto.timingSafeEqual on the two 32-byte digests, and its answer decides', () => {
    const hasher = new SecretHasher();
    const secret = 'A'.repeat(23) + 'b';
    const stored = hasher.hash(secret);
    expect(hasher.matches(secret, stored)).toBe(true);
    expect(crypto.timingSafeEqual).toHaveBeenCalledTimes(1);
    const [expected, actual] = crypto.timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
    expect(expected).toHaveLength(32);
    expect(actual).toHaveLength(32);
    expect(Buffer.from(expected).toString('base64url')).toBe(stored.hash);
    // Its answer is the answer: no other comparison decides on the side.
    crypto.timingSafeEqual.mockReturnValueOnce(false);
    expect(hasher.matches(secret, stored)).toBe(false);
  });

  test('a wrong secret of the same length is compared the same way and rejected, with and without a pepper', () => {
    for (const hasher of [new SecretHasher(), new SecretHasher('a-server-side-pepper-of-32-bytes!')]) {
      crypto.timingSafeEqual.mockClear();
      const secret = 'Qx7'.repeat(8);
      const stored = hasher.hash(secret);
      for (const wrong of ['Qx7'.repeat(7) + 'Qx8', 'qx7' + 'Qx7'.repeat(7), 'Z'.repeat(24)]) {
        expect(wrong).toHaveLength(secret.length);
        expect(hasher.matches(wrong, stored)).toBe(false);
      }
      expect(crypto.timingSafeEqual).toHaveBeenCalledTimes(3);
      expect(crypto.timingSafeEqual.mock.results.map((r) => r.value)).toEqual([false, false, false]);
    }
  });
});
