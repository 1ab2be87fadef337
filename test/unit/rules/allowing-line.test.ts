// allowingLine, the guard's allocation-free question, must make exactly the decision evaluateRestrictions
// makes, whatever the order of the calls (it remembers the last decision that depended on method and path only).
import { join } from 'node:path';
import fc from 'fast-check';
import { findFixtureFiles, loadFixtureFile } from '../../../src/cli/fixtures.js';
import { allowingLine, evaluateRestrictions } from '../../../src/rules/evaluate.js';
import { INDEX_THRESHOLD } from '../../../src/rules/compile.js';
import { parseRestrictions, type RestrictionSet } from '../../../src/rules/parse.js';
import type { EvaluateOptions, RestrictionRequest } from '../../../src/rules/types.js';

/** What evaluateRestrictions says, in allowingLine's terms. */
function expected(set: RestrictionSet, request: RestrictionRequest, options: EvaluateOptions): number {
  const decision = evaluateRestrictions(set, request, options);
  return decision.allowed ? (decision.line ?? 0) : -1;
}

const lineOf = (set: RestrictionSet, request: RestrictionRequest, options: EvaluateOptions): number =>
  allowingLine(set, request.method.toUpperCase(), request.url, request.contentType, request.body, options);

const files = findFixtureFiles(join(__dirname, '..', '..', '..', 'fixtures'));

describe.each(files.map((f) => [f.split('/').pop()!, f]))('fixture corpus %s', (_, path) => {
  const file = loadFixtureFile(path);
  const set = parseRestrictions(Array.isArray(file.rules) ? file.rules.join('\n') : file.rules);
  const options = file.options ?? {};
  const cases = file.cases.map((c) => c.request);

  test('every case, in order and then each twice in a row', () => {
    for (const request of cases) expect([request.url, lineOf(set, request, options)]).toEqual([request.url, expected(set, request, options)]);
    for (const request of cases) {
      const want = expected(set, request, options);
      expect([request.url, lineOf(set, request, options), lineOf(set, request, options)]).toEqual([request.url, want, want]);
    }
  });

  test('any sequence of the cases, in both case modes', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: cases.length - 1 }), { minLength: 1, maxLength: 40 }), fc.boolean(), (picks, flip) => {
        const mode = flip ? { ...options, caseInsensitive: !(options.caseInsensitive === true) } : options;
        for (const i of picks) expect(lineOf(set, cases[i]!, mode)).toBe(expected(set, cases[i]!, mode));
      }),
      { numRuns: 60 },
    );
  });
});

test(`a set large enough for the literal index (${INDEX_THRESHOLD}+ rules): any sequence of requests`, () => {
  const lines: string[] = [];
  for (let i = 0; i < INDEX_THRESHOLD + 6; i++) {
    lines.push(i % 5 === 0 ? `[POST]/rest/p${i}/.*[QueryParam::x==\\d+]` : i % 7 === 0 ? `/rest/p${i}/[a-z]+[JsonData::k==v]` : `[GET,PUT]/rest/p${i}/\\d+`);
  }
  lines.push('[GET]/rest/.*/shared', '[DELETE].*');
  const set = parseRestrictions(lines.join('\n'));
  const request = fc.record({
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'),
    url: fc
      .tuple(fc.nat({ max: INDEX_THRESHOLD + 8 }), fc.constantFrom('1', '22', 'abc', 'shared', 'X'), fc.constantFrom('', '?x=1', '?x=a', '?x=1&x=2', '/'))
      .map(([i, tail, query]) => `/rest/p${i}/${tail}${query}`),
    contentType: fc.constantFrom(undefined, 'application/json'),
    body: fc.constantFrom(undefined, { k: 'v' }, { k: 'w' }),
  });
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 30 }), fc.boolean(), (requests, caseSensitive) => {
      for (const r of requests) expect(lineOf(set, r, { caseInsensitive: !caseSensitive })).toBe(expected(set, r, { caseInsensitive: !caseSensitive }));
    }),
    { numRuns: 200 },
  );
});

describe('what is remembered', () => {
  const set = parseRestrictions(['[GET]/rest/a/.*', '[POST]/rest/b[QueryParam::x==1]', '[POST]/rest/b[JsonData::y==2]', '/rest/c'].join('\n'));

  test('a decision that read the query is not reused for another query on the same path', () => {
    expect(allowingLine(set, 'POST', '/rest/b?x=1', undefined, undefined, {})).toBe(2);
    expect(allowingLine(set, 'POST', '/rest/b?x=2', undefined, undefined, {})).toBe(-1);
    expect(allowingLine(set, 'POST', '/rest/b?x=1', undefined, undefined, {})).toBe(2);
  });

  test('a decision that read the body is not reused for another body', () => {
    expect(allowingLine(set, 'POST', '/rest/b', 'application/json', { y: '2' }, {})).toBe(3);
    expect(allowingLine(set, 'POST', '/rest/b', 'application/json', { y: '3' }, {})).toBe(-1);
    expect(allowingLine(set, 'POST', '/rest/b', 'text/plain', { y: '2' }, {})).toBe(-1);
  });

  test('a remembered decision is for its method, path and case mode only', () => {
    expect(allowingLine(set, 'GET', '/rest/a/1', undefined, undefined, {})).toBe(1);
    expect(allowingLine(set, 'GET', '/rest/a/1', undefined, undefined, {})).toBe(1);
    expect(allowingLine(set, 'DELETE', '/rest/a/1', undefined, undefined, {})).toBe(-1);
    expect(allowingLine(set, 'GET', '/REST/A/1', undefined, undefined, { caseInsensitive: true })).toBe(1);
    expect(allowingLine(set, 'GET', '/REST/A/1', undefined, undefined, {})).toBe(-1);
    expect(allowingLine(set, 'GET', '/rest/a/1', undefined, undefined, { basePath: '/jira' })).toBe(1);
    expect(allowingLine(set, 'GET', '/rest/a/1?x=1#frag', undefined, undefined, {})).toBe(-1);
    expect(allowingLine(set, 'GET', '/rest/a/1/', undefined, undefined, { strict: true })).toBe(1);
    expect(allowingLine(set, 'PATCH', '/rest/c', undefined, undefined, {})).toBe(4);
    expect(allowingLine(set, 'PATCH', '/rest/c/', undefined, undefined, { strict: true })).toBe(-1);
  });

  test('an empty set allows with 0; an ambiguous path is denied', () => {
    const none = parseRestrictions('');
    expect(allowingLine(none, 'GET', '/anything', undefined, undefined, {})).toBe(0);
    expect(allowingLine(none, 'GET', '/a/../b', undefined, undefined, {})).toBe(-1);
  });
});
