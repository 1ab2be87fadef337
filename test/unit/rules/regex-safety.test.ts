import { COST_BUDGET, vetRegex } from '../../../src/rules/regex-safety.js';

const PATH = 8192;
const cost = (source: string) => {
  const verdict = vetRegex(source, PATH);
  if (!verdict.ok) throw new Error(`rejected: ${verdict.message}`);
  return verdict.cost;
};
const rejection = (source: string) => {
  const verdict = vetRegex(source, PATH);
  return verdict.ok ? null : verdict.message;
};

describe('vetRegex cost model', () => {
  test('linear shapes cost a small multiple of the input length', () => {
    for (const source of ['/rest/api/2/issue/JRA.*', '.*', '\\s+$', '/rest/api/2/issue/[A-Z]+-\\d+', '/rest/[^/]+/issue/[^/]+', '(names|schema)']) {
      expect(cost(source)).toBeLessThanOrEqual(4 * PATH);
    }
  });

  test('quantifiers separated by a literal they can swallow multiply by n / period', () => {
    // `.*/rest/.*/issue/.*`: the first .* can hold "/rest/" at every 5th position; the tail .* ends the match.
    expect(cost('.*/rest/.*/issue/.*')).toBeGreaterThan((PATH * PATH) / 5);
    expect(cost('.*/rest/.*/issue/.*')).toBeLessThan(COST_BUDGET);
    expect(cost('.*/rest/api/2/issue/.*/comment.*')).toBeLessThan((PATH * PATH) / 10);
  });

  test('a separator the quantifier cannot swallow keeps the cost linear', () => {
    expect(cost('[^/]*/issue/[^/]*/x')).toBeLessThanOrEqual(4 * PATH);
    expect(cost('[a-z]*[0-9]*x')).toBeLessThanOrEqual(4 * PATH);
  });

  test.each([
    ['.*.*x', /backtracking steps/],
    ['.*\\s+', /backtracking steps/],
    ['\\d*\\d*\\d*\\d*z', /backtracking steps/],
    ['.*a.*a.*a.*b', /backtracking steps/],
    ['.*/.*/.*/.*/z', /backtracking steps/],
    ['.*/rest/.*/issue/.*/comment.*', /backtracking steps/],
    ['(a|a)*', /more than one way/],
    ['(a|aa)+', /more than one way/],
    ['(ab|a)*c', /more than one way/],
    ['(a+)+', /nested quantifiers|repetition inside a repetition/],
    ['(a)\\1', /back-reference/],
    ['(?<n>a)\\k<n>', /back-reference/],
    ['(?:(?=a)b)*', /lookaround .* inside a repetition/],
    ['.*(?=.*x).*y', /backtracking steps/],
  ])('rejects %s', (source, why) => {
    expect(rejection(source)).toMatch(why);
  });

  test('optional parts are alternatives, not repetitions (safe-regex2 would count `?` as nesting)', () => {
    expect(rejection('-?\\d+(\\.\\d+)?')).toBeNull();
    expect(rejection('/rest/api/2/issue/[A-Z]+-\\d+/(comment|worklog)(/\\d+)?')).toBeNull();
    expect(rejection('.*/rest/[A-Z]+-\\d+/?')).toBeNull();
    expect(rejection('(a(b+)?)?c')).toBeNull();
    // …but an optional part between overlapping quantifiers still counts: `.*(x.*)?y` holds `.*.*y`.
    expect(rejection('.*(x.*)?y')).toMatch(/backtracking steps/);
    // …and a long run of optional characters multiplies the paths.
    expect(rejection(`${'a?'.repeat(30)}${'a'.repeat(30)}`)).not.toBeNull();
  });

  test('runs that cannot overlap do not multiply, runs that can do', () => {
    expect(cost('.*/rest/[A-Z]+-\\d+')).toBeLessThanOrEqual(8 * PATH);
    expect(cost('.*/[^/]+/[^/]+/.*')).toBeLessThanOrEqual(8 * PATH);
    expect(rejection('.*/[^/]*/.*x')).toMatch(/backtracking steps/);
  });

  test('accepts a prefix-free repeated group', () => {
    expect(rejection('(?:ab|ac)*')).toBeNull();
    expect(rejection('(?:ab|cd){2}x')).toBeNull();
  });

  test('value regexes are costed at their own cap', () => {
    expect(vetRegex('.*/.*x', 4096).ok).toBe(true);
    expect(vetRegex('.*/.*x', 8192).ok).toBe(false);
  });
});
