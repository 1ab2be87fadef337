// What one request costs a whole set (SPEC §3.3): shared regexes run once per request, and the set budget
// charges what cannot be shared. Runs are counted, not timed (the machine is noisy): a spy on
// RegExp.prototype.test counts how often a given regex runs.
import { decideRequest } from '../../../src/rules/evaluate.js';
import { evaluateRestrictions, lintRestrictions, parseRestrictions } from '../../../src/index.js';

/**
 * A constraint that costs something on every run (a bounded repetition tried from every position, about
 * 5e5 steps at the cap, charged twice) and is cheap enough to be accepted. The issue's own example,
 * `(?=a+a+$)$`, is refused on its own since its lookahead is costed as anchored (about 1.7e7 steps).
 */
const COSTLY = '[a-z]{0,16}a+b';

/** Counts the runs of regexes whose source contains `needle` while `fn` runs. */
function runsOf(needle: string, fn: () => void): number {
  const original = RegExp.prototype.test;
  let runs = 0;
  const spy = jest.spyOn(RegExp.prototype, 'test').mockImplementation(function (this: RegExp, text: string) {
    if (this.source.includes(needle)) runs++;
    return original.call(this, text);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return runs;
}

/** Lines of up to 4,000 `(?:)` groups: a thousand of them pass the default maxBytes (128 KiB) by far. */
const LARGE = { maxBytes: 4 * 1024 * 1024 };

/** `n` lines whose URL regexes all differ but all match `/x`, sharing one constraint. */
const distinctUrls = (n: number, constraint: (i: number) => string, method = 'POST') =>
  Array.from({ length: n }, (_, i) => `[${method}]/x${'(?:)'.repeat(i + 1)}${constraint(i)}`).join('\n');

const VALUE = `${'a'.repeat(4095)}c`;
const jsonRequest = { method: 'POST', url: '/x', contentType: 'application/json', body: { v: VALUE } };

describe('a constraint shared by many rules runs once per request', () => {
  test('JsonData: 1,000 lines with one (regex, path) pair run it once, explanation included', () => {
    const set = parseRestrictions(distinctUrls(1000, () => `[JsonData::v==${COSTLY}]`), LARGE);
    expect(set.rules).toHaveLength(1000);
    const runs = runsOf('{0,16}a+b', () => {
      const decision = evaluateRestrictions(set, jsonRequest);
      expect(decision.allowed).toBe(false);
      expect(decision.explanation).toContain('line 20: JsonData::v: the value of "v" does not match');
    });
    expect(runs).toBe(1);
  });

  test('QueryParam: 1,000 lines with one (regex, name) pair run it once', () => {
    const set = parseRestrictions(distinctUrls(1000, () => `[QueryParam::v==${COSTLY}]`, 'GET'), LARGE);
    expect(runsOf('{0,16}a+b', () => expect(evaluateRestrictions(set, { method: 'GET', url: `/x?v=${VALUE}` }).allowed).toBe(false))).toBe(1);
  });

  test('the guard question: every method and every target, still once per request for the body', () => {
    const set = parseRestrictions(distinctUrls(50, () => `[JsonData::v==${COSTLY}]`, 'POST,PUT'));
    const methods = ['POST', 'PUT', ...Array.from({ length: 200 }, (_, i) => `M${i}`)];
    let verdict: ReturnType<typeof decideRequest> | undefined;
    const runs = runsOf('{0,16}a+b', () => {
      verdict = decideRequest(set, ['POST', 'PUT'], ['/x', '/x/', '/x?q=1'], 'application/json', { v: VALUE });
    });
    expect(verdict).toMatchObject({ method: 'POST', target: '/x' });
    expect(runs).toBe(1);
    // Unknown methods share one method bit: the URL regexes run once per target, not once per method.
    const urlRuns = runsOf('(?:)(?:)', () => void decideRequest(set, methods.slice(2), ['/x'], undefined, undefined));
    expect(urlRuns).toBeLessThanOrEqual(50);
  });

  test('one regex under different names or paths is charged for each: they hold different values', () => {
    const paths = lintRestrictions(distinctUrls(1000, (i) => `[JsonData::v${i}==${COSTLY}]`), LARGE);
    expect(paths.ok).toBe(false);
    expect(paths.errors.some((e) => e.code === 'unsafe_regex' && /the set's regexes/.test(e.message))).toBe(true);
    // … while the same pair on every line is charged once and fits.
    expect(lintRestrictions(distinctUrls(1000, () => `[JsonData::v0==${COSTLY}]`), LARGE).ok).toBe(true);
  });

  test('targets that differ may not together exceed the caps of one', () => {
    const set = parseRestrictions('/x.*');
    const long = `/x${'a'.repeat(5000)}`;
    expect(decideRequest(set, ['GET'], [long], undefined, undefined)).toBe(1);
    expect(decideRequest(set, ['GET'], [long, `${long}b`], undefined, undefined)).toMatchObject({ decision: { reason: 'ambiguous_path' } });
    expect(decideRequest(set, ['GET'], [long, long], undefined, undefined)).toBe(1);
  });
});
