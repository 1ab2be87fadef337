import { SecretHasher } from '../../../src/tokens/hash.js';

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
