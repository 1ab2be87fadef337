import { checkPrefix, checksum, crc32, DEFAULT_PREFIX, generateToken, parseToken, randomBase62 } from '../../../src/tokens/format.js';

describe('token format', () => {
  test('prefix, 12-character id, 24-character secret, 6-character checksum', () => {
    const { token, id, secret } = generateToken(DEFAULT_PREFIX);
    expect(token).toMatch(/^tfk_[0-9A-Za-z]{42}$/);
    expect(token.slice(4, 16)).toBe(id);
    expect(token.slice(16, 40)).toBe(secret);
    expect(parseToken(token, DEFAULT_PREFIX)).toEqual({ ok: true, id, secret });
  });

  test('the secret carries at least 128 bits: 24 base62 characters, all characters used', () => {
    expect(24 * Math.log2(62)).toBeGreaterThan(128);
    const seen = new Set(Array.from({ length: 200 }, () => randomBase62(24)).join(''));
    expect(seen.size).toBe(62);
    expect(new Set(Array.from({ length: 1000 }, () => generateToken('tfk_').id)).size).toBe(1000);
  });

  test('crc32 is the IEEE CRC-32', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(checksum('x')).toHaveLength(6);
  });

  test.each([
    ['empty', ''],
    ['not a string', 42],
    ['wrong prefix', `ghp_${'a'.repeat(42)}`],
    ['too short', `tfk_${'a'.repeat(41)}`],
    ['too long', `tfk_${'a'.repeat(43)}`],
    ['10 KB', `tfk_${'a'.repeat(10_000)}`],
    ['non-ASCII', `tfk_${'é'.repeat(42)}`],
    ['punctuation', `tfk_${'a'.repeat(41)}-`],
  ])('%s is malformed', (_, text) => {
    expect(parseToken(text, DEFAULT_PREFIX)).toEqual({ ok: false, reason: 'malformed' });
  });

  test('one changed character fails the checksum (offline)', () => {
    const { token } = generateToken(DEFAULT_PREFIX);
    for (const at of [4, 20, 39, 41, token.length - 1]) {
      const c = token[at] === 'a' ? 'b' : 'a';
      expect(parseToken(token.slice(0, at) + c + token.slice(at + 1), DEFAULT_PREFIX)).toEqual({ ok: false, reason: 'checksum' });
    }
  });

  test('custom prefixes are checked at start-up', () => {
    expect(checkPrefix('acme_')).toBe('acme_');
    for (const bad of ['', 'tfk', 'Tfk_', '_', 'a_', 'x'.repeat(20) + '_']) expect(() => checkPrefix(bad)).toThrow(TypeError);
    const { token } = generateToken('acme_');
    expect(parseToken(token, 'acme_').ok).toBe(true);
    expect(parseToken(token, 'tfk_')).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('secret uniformity', () => {
  const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

  /** Pearson's chi-square statistic of `text`'s character counts against a uniform base62 distribution. */
  function chiSquare(text: string): number {
    const counts = new Map<string, number>([...BASE62].map((c) => [c, 0]));
    for (const c of text) {
      const n = counts.get(c);
      if (n === undefined) throw new Error(`not a base62 character: ${JSON.stringify(c)}`);
      counts.set(c, n + 1);
    }
    const expected = text.length / BASE62.length;
    let chi = 0;
    for (const n of counts.values()) chi += (n - expected) ** 2 / expected;
    return chi;
  }

  test('the secret part of generated tokens is uniform over all 62 characters (chi-square)', () => {
    // 5,000 secrets × 24 characters = 120,000 characters, about 1,935 expected per character; 61 degrees
    // of freedom. The 1e-6 upper quantile of chi-square(61) is 128.5 (scipy.stats.chi2.isf(1e-6, 61)),
    // so a uniform generator fails this test with probability below 1e-6 at the threshold 130.
    // A biased generator lands far above it: `byte % 62` over all 256 byte values (no rejection) gives an
    // expected statistic near 61 + 791; rejecting only bytes ≥ 250 near 61 + 230; a 61-character alphabet
    // near 61 + 1,967 (and fails the "every character occurs" check).
    const secrets: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const { token, secret } = generateToken(DEFAULT_PREFIX);
      expect(token.slice(16, 40)).toBe(secret);
      secrets.push(secret);
    }
    const text = secrets.join('');
    expect(text).toHaveLength(120_000);
    expect(new Set(text).size).toBe(62);
    expect(chiSquare(text)).toBeLessThan(130);
  });

  test('randomBase62 alone is uniform too, at a longer length', () => {
    // 240 × 500 = 120,000 characters; same statistic and threshold (false failure below 1e-6).
    const text = Array.from({ length: 500 }, () => randomBase62(240)).join('');
    expect(text).toHaveLength(120_000);
    expect(chiSquare(text)).toBeLessThan(130);
  });
});
