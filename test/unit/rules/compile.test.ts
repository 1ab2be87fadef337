import fc from 'fast-check';
import { anyCharFree, captureFree, INDEX_THRESHOLD, isCompiled, requiredLiteral } from '../../../src/rules/compile.js';
import { RestrictionSet } from '../../../src/rules/parse.js';
import { evaluateRestrictions, formatRule, parseRestrictions } from '../../../src/index.js';

describe('requiredLiteral', () => {
  test.each([
    ['.*/rest/api/2/issue/JRA.*', '/rest/api/2/issue/JRA'],
    ['/rest/api/2/issue/[A-Z]+-\\d+', '/rest/api/2/issue/'],
    ['.*rest/extender/1.0/worklog/user/.*', 'rest/extender/1'],
    ['\\/a\\.b', '/a.b'],
    ['/a|/b', ''],
    ['(?:/x)/abc', '/abc'],
    ['/é/abcd', '/abcd'],
    ['/ab?cd', '/a'],
  ])('%s → %j', (source, literal) => {
    expect(requiredLiteral(source)).toBe(literal);
  });
});

describe('the trigram index gives the same decisions as trying every rule in order', () => {
  const segment = fc.constantFrom('rest', 'api', '2', 'issue', 'JRA-1', 'jra-12', 'KANBAN-100', 'comment', 'filter', 'abc', 'x', 'Abc');
  const path = fc.array(segment, { minLength: 1, maxLength: 6 }).map((segs) => `/${segs.join('/')}`);
  const url = fc.oneof(
    path,
    path.map((p) => `.*${p}.*`),
    path.map((p) => `${p}/[^/]+`),
    fc.tuple(path, path).map(([a, b]) => `${a}(?:${b})?`),
    fc.tuple(path, path).map(([a, b]) => `${a}|${b}`),
  );
  const method = fc.constantFrom('', '[GET]', '[POST]', '[GET,DELETE]');
  const rule = fc.tuple(method, url, fc.constantFrom('', '[QueryParam::a==1]')).map((parts) => parts.join(''));

  test('for random sets above the index threshold', () => {
    fc.assert(
      fc.property(
        fc.array(rule, { minLength: INDEX_THRESHOLD, maxLength: 60 }),
        fc.array(fc.tuple(fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'), path, fc.constantFrom('', '?a=1', '?a=2')), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        (rules, requests, caseSensitive) => {
          const set = parseRestrictions(rules.join('\n'));
          const singles = set.rules.map((r) => parseRestrictions(formatRule(r)));
          for (const [m, p, q] of requests) {
            const request = { method: m, url: p + q };
            const expected = singles.findIndex((s) => evaluateRestrictions(s, request, { caseInsensitive: !caseSensitive }).allowed);
            const decision = evaluateRestrictions(set, request, { caseInsensitive: !caseSensitive });
            expect(decision.allowed).toBe(expected >= 0);
            if (expected >= 0) expect(decision.line).toBe(expected + 1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('anyCharFree: what case-insensitive URL regexes are compiled from', () => {
  test.each([
    ['.*/rest/.*', '[^\\uFFFF]*/rest/[^\\uFFFF]*'],
    ['/a[^]b[\\s\\S]c[\\d\\D]+', '/a[^\\uFFFF]b[^\\uFFFF]c[^\\uFFFF]+'],
    ['/x(?:.|y)(?=.)', '/x(?:[^\\uFFFF]|y)(?=[^\\uFFFF])'],
    ['/[^/]+\\.json[.]', '/[^/]+\\.json[.]'],
  ])('%s → %s', (source, expected) => {
    expect(anyCharFree(source)).toBe(expected);
  });

  test('matches what the original matches on every canonical path, ignoring case', () => {
    const set = parseRestrictions('.*/rest/.*\n/a.b');
    for (const url of ['/rest/x', '/REST/%C3%A9%E2%84%AA', '/a%0Ab'.replace('%0A', 'x'), '/A-B']) {
      expect([url, evaluateRestrictions(set, { method: 'GET', url }, { caseInsensitive: true }).allowed]).toEqual([url, true]);
    }
    // U+FFFF, which [^\uFFFF] leaves out, never reaches a rule: the path is ambiguous.
    expect(evaluateRestrictions(set, { method: 'GET', url: '/rest/%EF%BF%BF' }, { caseInsensitive: true })).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
  });
});

describe('a context path matched without compiling a regex for it', () => {
  test('gives the decisions of the regex compiled for it (the same rule inside a group takes that road)', () => {
    const seg = fc.constantFrom('rest', 'api', 'jira', 'x', 'a.b', 'JIRA', '2');
    const path = fc.array(seg, { minLength: 0, maxLength: 4 }).map((s) => s.map((x) => `/${x}`).join(''));
    const lead = fc.constantFrom('.*', '.*?', '.+', '^.*');
    const tail = fc.constantFrom('/rest/x', '/rest/.*', 'rest/x', 'rest/[^/]+', '/a\\.b/.*');
    const basePath = fc.constantFrom('/jira', '/a.b', '/j/x', '/JIRA');
    fc.assert(
      fc.property(lead, tail, basePath, path, path, (l, t, base, before, after) => {
        const direct = parseRestrictions(`${l}${t}`);
        const grouped = parseRestrictions(`(?:${l}${t})`);
        const url = `${before}${after}` === '' ? '/' : `${before}${after}`;
        for (const target of [url, `${base}${after || '/rest/x'}`, `${base}/rest/x`]) {
          const a = evaluateRestrictions(direct, { method: 'GET', url: target }, { basePath: base }).allowed;
          const b = evaluateRestrictions(grouped, { method: 'GET', url: target }, { basePath: base }).allowed;
          expect([l + t, base, target, a]).toEqual([l + t, base, target, b]);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('captureFree: regexes are compiled without captures (V8 compiles a capturing group ten times slower)', () => {
  test.each([
    ['/(a)(b(c))', '/(?:a)(?:b(?:c))'],
    ['/(?<key>[A-Z]+)-(\\d+)', '/(?:[A-Z]+)-(?:\\d+)'],
    ['/(?:a)(?=(b))', '/(?:a)(?=(?:b))'],
    ['/[(]x\\(y', '/[(]x\\(y'],
    // A back-reference reads its capture: left as written.
    ['/(a)\\1', '/(a)\\1'],
    ['/(?<n>a)\\k<n>', '/(?<n>a)\\k<n>'],
  ])('%s → %s', (source, expected) => {
    expect(captureFree(source)).toBe(expected);
  });

  test('matches exactly what the original matches', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab()|*?]{0,12}$/), fc.stringMatching(/^[ab]{0,8}$/), (source, text) => {
        let original: RegExp;
        try {
          original = new RegExp(`^(?:${source})$`, 's');
        } catch {
          return;
        }
        expect(new RegExp(`^(?:${captureFree(source)})$`, 's').test(text)).toBe(original.test(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('both case modes are compiled at parse time', () => {
  test('the first case-insensitive evaluation compiles no URL regex (it paid for every rule: 1,000 lines of dots took 2.4 s)', () => {
    const set = parseRestrictions('/a.b\n.*/rest/(x)\n[GET]/c[QueryParam::q==(a+)+]');
    const compiled = RestrictionSet.compiled(set);
    for (const rule of compiled.rules) {
      expect(isCompiled(rule.url, true, '')).toBe(true);
      expect(isCompiled(rule.url, false, '')).toBe(true);
    }
    expect(evaluateRestrictions(set, { method: 'GET', url: '/A-B' }, { caseInsensitive: true }).allowed).toBe(true);
  });
});
