// SPEC §3.8 caps are counted in bytes of the raw text (never in UTF-16 units or decoded characters), and
// SPEC §3.6 JsonData paths resolve through own properties only (a polluted prototype never satisfies one).
// Values are single (one occurrence, no arrays) and paths are lower-case ASCII written exactly as the rules
// spell them, so these cases hold whatever the case-sensitivity default or array semantics are.
import { evaluateRestrictions, parseRestrictions, type RestrictionRequest } from '../../../src/index.js';

const KiB = 1024;
const decide = (rules: string, request: RestrictionRequest) => evaluateRestrictions(parseRestrictions(rules), request);
const json = (body: unknown): RestrictionRequest => ({ method: 'POST', url: '/x', contentType: 'application/json', body });
const get = (url: string): RestrictionRequest => ({ method: 'GET', url });
const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('JSON string values: at most 4 KiB of UTF-8, not 4,096 UTF-16 units', () => {
  const rule = '/x[JsonData::v==.*]';

  test.each([
    ['2,048 × é (4,096 bytes)', 'é'.repeat(2048), 4 * KiB],
    ['4,096 ASCII characters', 'a'.repeat(4096), 4 * KiB],
    ['1,024 × 😀 (4,096 bytes, 2,048 UTF-16 units)', '😀'.repeat(1024), 4 * KiB],
    ['1,365 × 中 and one a (4,096 bytes, 1,366 UTF-16 units)', `${'中'.repeat(1365)}a`, 4 * KiB],
  ])('%s: within the cap, allowed', (_name, v, bytes) => {
    expect(utf8Bytes(v)).toBe(bytes);
    expect(decide(rule, json({ v }))).toMatchObject({ allowed: true, line: 1 });
  });

  test.each([
    ['2,049 × é (4,098 bytes but 2,049 UTF-16 units)', 'é'.repeat(2049)],
    ['4,095 ASCII characters and one é (4,097 bytes, 4,096 units)', `${'a'.repeat(4095)}é`],
    ['1,025 × 😀 (4,100 bytes, 2,050 UTF-16 units)', '😀'.repeat(1025)],
    ['1,366 × 中 (4,098 bytes, only 1,366 UTF-16 units: three bytes each)', '中'.repeat(1366)],
    ['4,097 ASCII characters', 'a'.repeat(4097)],
  ])('%s: over the cap, denied although `.*` matches it', (_name, v) => {
    expect(utf8Bytes(v)).toBeGreaterThan(4 * KiB);
    expect(new RegExp('^(?:.*)$', 's').test(v)).toBe(true);
    expect(decide(rule, json({ v }))).toMatchObject({ allowed: false, reason: 'no_rule_matched' });
  });

  test('the cap applies to a nested value as well', () => {
    const nested = '/x[JsonData::a.v==.*]';
    expect(decide(nested, json({ a: { v: 'é'.repeat(2048) } })).allowed).toBe(true);
    expect(decide(nested, json({ a: { v: 'é'.repeat(2049) } })).allowed).toBe(false);
  });
});

describe('QueryParam values: at most 4 KiB of raw (still percent-encoded) text', () => {
  const rule = '/x[QueryParam::v==.*]';

  test('4,096 raw bytes are allowed, 4,097 are not', () => {
    expect(decide(rule, get(`/x?v=${'a'.repeat(4096)}`)).allowed).toBe(true);
    expect(decide(rule, get(`/x?v=${'a'.repeat(4097)}`)).allowed).toBe(false);
  });

  test('counted before decoding: 1,366 × %41 is 4,098 raw bytes (1,366 decoded characters) and is denied', () => {
    expect(decide(rule, get(`/x?v=${'%41'.repeat(1365)}`)).allowed).toBe(true); // 4,095 raw bytes
    expect(decide(rule, get(`/x?v=${'%41'.repeat(1365)}a`)).allowed).toBe(true); // 4,096 raw bytes
    expect(decide(rule, get(`/x?v=${'%41'.repeat(1366)}`))).toMatchObject({ allowed: false, reason: 'no_rule_matched' });
    // Encoded UTF-8: 683 × %C3%A9 is 4,098 raw bytes, 683 decoded characters (1,366 bytes of UTF-8).
    expect(decide(rule, get(`/x?v=${'%C3%A9'.repeat(682)}aaaa`)).allowed).toBe(true); // 4,096 raw bytes
    expect(decide(rule, get(`/x?v=${'%C3%A9'.repeat(683)}`)).allowed).toBe(false);
  });

  test('a value within its cap still fails when the whole query string is over 8 KiB', () => {
    const other = (n: number) => `&w=${'b'.repeat(n)}`;
    // v=…: 2 + 4,096 bytes; &w=…: 3 + n bytes. n = 4,091 makes the query exactly 8,192 bytes.
    expect(decide(rule, get(`/x?v=${'a'.repeat(4096)}${other(4091)}`)).allowed).toBe(true);
    expect(decide(rule, get(`/x?v=${'a'.repeat(4096)}${other(4092)}`)).allowed).toBe(false);
  });
});

describe('the path: at most 8 KiB of raw (still percent-encoded) text', () => {
  const rule = '/[a-z]+';

  test('8,192 bytes are allowed, 8,193 are ambiguous_path', () => {
    expect(decide(rule, get(`/${'a'.repeat(8191)}`))).toMatchObject({ allowed: true, line: 1 });
    expect(decide(rule, get(`/${'a'.repeat(8192)}`))).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
    // The query string does not count towards the path cap.
    expect(decide(rule, get(`/${'a'.repeat(8191)}?q=1`))).toMatchObject({ allowed: true, line: 1 });
  });

  test('counted before decoding and before the trailing slash is dropped', () => {
    // 1 + 2,730 × 3 + 1 = 8,192 raw bytes (2,732 characters decoded): allowed.
    expect(decide(rule, get(`/${'%61'.repeat(2730)}a`))).toMatchObject({ allowed: true, line: 1 });
    // 1 + 2,731 × 3 = 8,194 raw bytes, only 2,732 characters decoded: over the cap.
    expect(decide(rule, get(`/${'%61'.repeat(2731)}`))).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
    // 8,193 raw bytes whose last is a trailing `/`: over the cap although 8,192 remain after dropping it.
    expect(decide(rule, get(`/${'a'.repeat(8191)}/`))).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
  });
});

describe('JsonData never reads through a polluted prototype', () => {
  /** Runs `body` with `Object.prototype[key]` (or another prototype's) set, always removing it again. */
  function polluted<T>(proto: object, key: PropertyKey, value: unknown, body: () => T): T {
    Object.defineProperty(proto, key, { value, configurable: true, writable: true, enumerable: true });
    try {
      return body();
    } finally {
      delete (proto as Record<PropertyKey, unknown>)[key];
    }
  }
  afterEach(() => {
    // Belt and braces: a failure inside polluted() must not leak into other tests.
    expect(Object.hasOwn(Object.prototype, 'role')).toBe(false);
    expect(Object.hasOwn(Array.prototype, 0)).toBe(false);
  });

  test("Object.prototype.role = 'admin' does not satisfy [JsonData::role==admin] for {}", () => {
    const set = parseRestrictions('/x[JsonData::role==admin]');
    // The own property does (so the rule itself is fine).
    expect(evaluateRestrictions(set, json({ role: 'admin' })).allowed).toBe(true);
    const decision = polluted(Object.prototype, 'role', 'admin', () => {
      const body = {};
      expect((body as { role?: unknown }).role).toBe('admin'); // the pollution is in effect
      const d = evaluateRestrictions(set, json(body));
      return { allowed: d.allowed, reason: d.reason };
    });
    expect(decision).toEqual({ allowed: false, reason: 'no_rule_matched' });
  });

  test("nor [JsonData::a.role==admin] for { a: {} }", () => {
    const set = parseRestrictions('/x[JsonData::a.role==admin]');
    expect(evaluateRestrictions(set, json({ a: { role: 'admin' } })).allowed).toBe(true);
    const decision = polluted(Object.prototype, 'role', 'admin', () => {
      const d = evaluateRestrictions(set, json({ a: {} }));
      return { allowed: d.allowed, reason: d.reason };
    });
    expect(decision).toEqual({ allowed: false, reason: 'no_rule_matched' });
  });

  test('a body parsed by JSON.parse is no different', () => {
    const set = parseRestrictions('/x[JsonData::a.role==admin]');
    const decision = polluted(Object.prototype, 'role', 'admin', () => {
      const d = evaluateRestrictions(set, json(JSON.parse('{"a":{}}')));
      return d.allowed;
    });
    expect(decision).toBe(false);
  });

  test("Array.prototype[0] = 'x' does not satisfy [JsonData::0==x] for [], nor [JsonData::l.0==x] for { l: [] }", () => {
    const top = parseRestrictions('/x[JsonData::0==x]');
    const nested = parseRestrictions('/x[JsonData::l.0==x]');
    expect(evaluateRestrictions(top, json(['x'])).allowed).toBe(true);
    expect(evaluateRestrictions(nested, json({ l: ['x'] })).allowed).toBe(true);
    const decisions = polluted(Array.prototype, 0, 'x', () => {
      const empty: unknown[] = [];
      expect(empty[0]).toBe('x'); // the pollution is in effect
      return [evaluateRestrictions(top, json(empty)).allowed, evaluateRestrictions(nested, json({ l: [] })).allowed];
    });
    expect(decisions).toEqual([false, false]);
  });
});
