import { canonicalizePath, isJsonContentType, parseQuery } from '../../../src/rules/canonical.js';

describe('canonicalizePath', () => {
  test('decodes once and drops one trailing slash unless strict', () => {
    expect(canonicalizePath('/rest/%61pi/')).toEqual({ ok: true, path: '/rest/api' });
    expect(canonicalizePath('/rest/api/', { strict: true })).toEqual({ ok: true, path: '/rest/api/' });
    expect(canonicalizePath('/')).toEqual({ ok: true, path: '/' });
    expect(canonicalizePath('/caf%C3%A9')).toEqual({ ok: true, path: '/café' });
    expect(canonicalizePath('/a.b/..c/...')).toEqual({ ok: true, path: '/a.b/..c/...' });
  });

  test.each(['', 'x', '/a//b', '/a/./b', '/a/..', '/a\\b', '/a;b', '/a\u0001', '/a\u007f', '/é', '/%zz', '/%e9', '/%2F', '/%2e', '/%25', '/%5C', '/%3b', '/%00', '/%1f', '/%7F', '/%C2%9F', '/a#b'])(
    '%j is ambiguous_path with a message',
    (raw) => {
      const result = canonicalizePath(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe('ambiguous_path');
        expect(result.message).toMatch(/path/);
      }
    },
  );

  test('the 8 KiB cap is on the raw path', () => {
    expect(canonicalizePath(`/${'a'.repeat(8191)}`).ok).toBe(true);
    expect(canonicalizePath(`/${'a'.repeat(8192)}`).ok).toBe(false);
  });
});

describe('parseQuery', () => {
  test('splits on &, then on the first =, + as space, decodes once, records folded names', () => {
    const q = parseQuery('a=1&a=2&b&c=x=y&d=a+b%2B&e[]=1&f.g=2&h[i][j]=3&&');
    expect(q.valid).toBe(true);
    const expected = { a: ['1', '2'], b: [''], c: ['x=y'], d: ['a b+'], 'e[]': ['1'], 'f.g': ['2'], 'h[i][j]': ['3'] };
    for (const [name, values] of Object.entries(expected)) expect(q.values(name)).toEqual(values);
    expect(q.values('z')).toBeUndefined();
    expect(['a', 'e', 'f', 'h', 'h[i]', 'f.g'].filter((n) => q.isFolded(n))).toEqual(['e', 'f', 'h', 'h[i]']);
  });

  test('a leading bracket group folds into its content, as qs reads it: [a] is a, [a][b] is a[b], [a.b] is a.b', () => {
    // (A constraint's NAME never holds a bracket, so only bracket-free names matter.)
    const q = parseQuery('[a]=1&%5Bb%5D%5Bc%5D=2&[d.e]=3&[]=4&[[f]]=5&g=6&[h]x=7&%5Bi%5D%5D=8');
    expect(['a', 'b', 'c', 'd', 'd.e', 'e', 'f', 'g', 'h', 'hx', 'i'].filter((n) => q.isFolded(n))).toEqual(['a', 'b', 'd', 'd.e', 'h', 'hx', 'i']);
    expect(q.values('[a]')).toEqual(['1']);
  });

  test('more than 1,000 &-separated parts (empty ones count, as in qs and querystring) make the query unusable and ambiguous', () => {
    expect(parseQuery(`${'&'.repeat(999)}a=1`)).toMatchObject({ valid: true });
    expect(parseQuery(`${'&'.repeat(999)}a=1`).values('a')).toEqual(['1']);
    expect(parseQuery(`${'&'.repeat(1000)}a=1`)).toMatchObject({ valid: false, ambiguous: true });
    expect(parseQuery(`${'x=1&'.repeat(1000)}a=1`)).toMatchObject({ valid: false, ambiguous: true });
  });

  test('an invalid escape makes the whole query unusable and ambiguous', () => {
    for (const bad of ['a=1&b=%zz', 'a=%4', 'a=%', 'a=%E2%82', 'a=%E2&b=%82%AC', 'a=%C0%AE', 'a=%FF', '%ZZ=1']) {
      expect(parseQuery(bad)).toMatchObject({ valid: false, ambiguous: true });
    }
    expect(parseQuery('a=%E2%82%AC&b=%41')).toMatchObject({ valid: true });
    expect(parseQuery('a=%E2%82%AC').values('a')).toEqual(['€']);
    expect(parseQuery(`a=${'x'.repeat(8200)}`)).toMatchObject({ valid: false, ambiguous: false });
  });

  test('records values over 4 KiB raw', () => {
    const q = parseQuery(`a=${'%41'.repeat(1366)}&b=1`);
    expect(q.isOversized('a')).toBe(true);
    expect(q.isOversized('b')).toBe(false);
  });
});

describe('isJsonContentType', () => {
  test.each([
    ['application/json', true],
    ['application/json;charset=utf-8', true],
    [' APPLICATION/JSON ', true],
    ['application/merge-patch+json', true],
    ['application/+json', false],
    ['application/json-seq', false],
    ['text/json', false],
    ['multipart/form-data', false],
    [undefined, false],
  ])('%j → %s', (type, expected) => {
    expect(isJsonContentType(type)).toBe(expected);
  });
});
