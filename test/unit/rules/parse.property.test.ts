// Property-based tests of the restriction grammar (SPEC §2): parse never crashes, errors are well-formed
// and collected for every line, and format/parse round-trips to a fixed point.
import fc from 'fast-check';
import {
  evaluateRestrictions,
  formatRestrictions,
  parseRestrictions,
  RestrictionSyntaxError,
  type Rule,
} from '../../../src/index.js';

const RUNS = { big: 1500, medium: 800, valid: 1000 };

// ---- helpers -----------------------------------------------------------------------------------

type Outcome = { ok: true; rules: readonly Rule[] } | { ok: false; error: RestrictionSyntaxError };

/** Parses `text`; anything thrown that is not a RestrictionSyntaxError is rethrown (and fails the property). */
function attempt(text: string, options?: { maxRules?: number }): Outcome {
  try {
    return { ok: true, rules: parseRestrictions(text, options).rules };
  } catch (err) {
    if (err instanceof RestrictionSyntaxError) return { ok: false, error: err };
    throw err;
  }
}

/** The lines of a text as the grammar sees them (split on `\n`, one trailing `\r` dropped). */
const linesOf = (text: string): string[] => text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));

/** What round-tripping must preserve: everything but line numbers and columns. */
function shape(rules: readonly Rule[]): unknown[] {
  return rules.map((r) => ({
    methods: r.methods === null ? null : [...r.methods],
    url: r.url,
    constraints: r.constraints.map((c) =>
      c.kind === 'QueryParam' ? { kind: c.kind, name: c.name, pattern: c.pattern } : { kind: c.kind, path: [...c.path], pattern: c.pattern },
    ),
  }));
}

/** SPEC §2's codes plus the engine's documented extras (errors.ts). */
const ERROR_CODES = new Set([
  'unknown_method', 'empty_url', 'unclosed_bracket', 'unknown_constraint', 'trailing_text', 'missing_operator', 'empty_name',
  'invalid_regex', 'unsafe_regex', 'line_too_long', 'too_many_rules', 'invalid_name', 'invalid_path', 'control_character',
]);

/** Checks the structure of a thrown error against the text it came from. */
function checkError(text: string, error: RestrictionSyntaxError): void {
  const lines = linesOf(text);
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('RestrictionSyntaxError');
  expect(Array.isArray(error.errors)).toBe(true);
  expect(error.errors.length).toBeGreaterThan(0);
  let previousLine = 0;
  for (const e of error.errors) {
    expect(Number.isInteger(e.line)).toBe(true);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines.length);
    expect(Number.isInteger(e.column)).toBe(true);
    expect(e.column).toBeGreaterThanOrEqual(1);
    if (e.code !== 'line_too_long') {
      // A column points into the line or just past its end.
      expect(e.column).toBeLessThanOrEqual(lines[e.line - 1]!.length + 1);
    }
    expect(typeof e.code).toBe('string');
    expect(e.code.length).toBeGreaterThan(0);
    expect(ERROR_CODES.has(e.code)).toBe(true);
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
    // Errors come in line order (documented on RestrictionSyntaxError).
    expect(e.line).toBeGreaterThanOrEqual(previousLine);
    previousLine = e.line;
  }
}

/** Checks a successful parse: rule lines are real, increasing, non-blank, non-comment lines. */
function checkRules(text: string, rules: readonly Rule[]): void {
  const lines = linesOf(text);
  let previousLine = 0;
  for (const r of rules) {
    expect(r.line).toBeGreaterThan(previousLine);
    expect(r.line).toBeLessThanOrEqual(lines.length);
    previousLine = r.line;
    const source = lines[r.line - 1]!;
    expect(source.trim()).not.toBe('');
    expect(source.trimStart().startsWith('#')).toBe(false);
    expect(r.url.length).toBeGreaterThan(0);
    expect(r.urlColumn).toBeGreaterThanOrEqual(1);
    // The URL regex is found in its line where urlColumn says.
    expect(source.slice(r.urlColumn - 1, r.urlColumn - 1 + r.url.length)).toBe(r.url);
    if (r.methods !== null) for (const m of r.methods) expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).toContain(m);
    for (const c of r.constraints) {
      expect(c.column).toBeGreaterThan(r.urlColumn);
      expect(source[c.column - 1]).toBe('[');
      if (c.kind === 'JsonData') for (const seg of c.path) expect(seg.length).toBeGreaterThan(0);
      else expect(c.name.length).toBeGreaterThan(0);
    }
  }
}

const PROBES = [
  { method: 'GET', url: '/rest/api/2/issue/KANBAN-100?expand=names' },
  { method: 'post', url: '/rest/api/2/issue/JRA-1/comment?a=true&expand=schema', contentType: 'application/json', body: { a: 'true', 'a.b': 'x', x: { y: { z: '1' } } } },
  { method: 'DELETE', url: '/x' },
  { method: 'HEAD', url: '/rest/extender/1.0/user/?permissions=true' },
];

/** The round-trip property (SPEC §2): canonical text parses to the same rules and is a fixed point. */
function checkRoundTrip(text: string, rules: readonly Rule[]): void {
  const f = formatRestrictions(parseRestrictions(text));
  const again = attempt(f);
  if (!again.ok) throw new Error(`canonical text ${JSON.stringify(f)} of ${JSON.stringify(text)} does not parse: ${again.error.message}`);
  expect(shape(again.rules)).toEqual(shape(rules));
  // "Parsing the canonical text gives an equal set": both sets decide a few requests alike.
  const original = parseRestrictions(text);
  const canonical = parseRestrictions(f);
  for (const request of PROBES) {
    const a = evaluateRestrictions(original, request);
    const b = evaluateRestrictions(canonical, request);
    expect([b.allowed, b.reason]).toEqual([a.allowed, a.reason]);
    if (a.allowed && a.line !== undefined) expect(rules[again.rules.findIndex((r) => r.line === b.line)]!.line).toBe(a.line);
  }
  expect(formatRestrictions(parseRestrictions(f))).toBe(f);
  // Canonical text: one rule a line, lines numbered 1..n, no blank or comment lines.
  expect(again.rules.map((r) => r.line)).toEqual(rules.map((_, i) => i + 1));
  if (rules.length === 0) expect(f).toBe('');
  else expect(f.split('\n')).toHaveLength(rules.length);
  for (const r of again.rules) if (r.methods !== null) expect(r.methods).toEqual(r.methods.map((m) => m.toUpperCase()));
  // Canonical keywords: each constraint is written exactly as `[QueryParam::` / `[JsonData::` at its column.
  const fLines = f.split('\n');
  again.rules.forEach((r, i) => {
    for (const c of r.constraints) expect(fLines[i]!.startsWith(`[${c.kind}::`, c.column - 1)).toBe(true);
  });
}

// ---- generators --------------------------------------------------------------------------------

const FRAGMENTS = [
  '[', ']', 'GET', 'get', 'Post', 'HEAD', 'DELETE', 'FOO', ',', ' , ', '::', ':', 'QueryParam', 'queryparam', 'JsonData', 'JSONDATA',
  'Bogus', '==', '=', '\\', '\\.', '\\[', '\\]', '.*', '.', '(', ')', '(?:', '(?=', '(?!', '|', '*', '+', '?', '{2,}', '{1,3}', '{',
  '}', '\n', '\r\n', '\r', '#', ' ', '  ', '\t', 'a', 'b', 'x', 'Z', '_', '0', '1', '9', '-', '/', '/rest/api/2/issue/', '^', '$',
  '\\d', '\\s', '\\w', '\\1', '[^/]', '[a-z]', '[]', '[^]', '(a|a)', '\u0000', '\u007f', 'é', '😀', '\ud800', '&',
];

const fragmentText = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join(''));

/** Lines assembled from grammar parts so that a good share of them parse. */
const spaces = fc.constantFrom('', '', ' ', '  ', '\t');
const methodName = fc.constantFrom('GET', 'get', 'Head', 'POST', 'put', 'PATCH', 'delete', 'OPTIONS', 'FOO', '');
const methodList = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(spaces, methodName, spaces).map((p) => p.join('')), { minLength: 1, maxLength: 3 }).map((ms) => `[${ms.join(',')}]`),
);
const regexPiece = fc.constantFrom(
  '/rest', '/api', '/2', '/issue', '/', '.*', '[^/]+', '\\d+', '[A-Z]+-\\d+', '(names|schema)', 'x', '\\.', '\\[', '\\]', '[]]',
  '(', ')', '+', '*', '(a|a)*', '\\s+$', '.*.*x', '\\1', '(?!a)', ' ', '{2,}', '[\\]x]', '-', '=', '==',
);
const regex = fc.array(regexPiece, { minLength: 0, maxLength: 6 }).map((p) => p.join(''));
const keyword = fc.constantFrom('QueryParam', 'queryparam', 'QUERYPARAM', 'JsonData', 'jsondata', 'Bogus', 'Query Param', '');
const nameText = fc.constantFrom('a', 'expand', 'a.b', 'a\\.b', 'a\\\\b', '0', 'a..b', '.a', 'a b', '', 'a]b', 'a\\x', 'x:y');
const operator = fc.constantFrom('==', '==', '==', '=', '', '===');
const constraint = fc.tuple(keyword, nameText, operator, regex, fc.constantFrom(']', ']', ']', '', ']]')).map(([k, n, o, r, close]) => `[${k}::${n}${o}${r}${close}`);
const grammarLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(spaces, methodList, spaces, regex, fc.array(fc.tuple(constraint, spaces).map((p) => p.join('')), { maxLength: 3 }), spaces, fc.constantFrom('', '', 'junk', '#c')).map(([s1, m, s2, u, cs, s3, tail]) => `${s1}${m}${s2}${u}${cs.join('')}${s3}${tail}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '# comment', '  # [GET]', '\t') },
);
const grammarText = fc.tuple(fc.array(grammarLine, { maxLength: 6 }), fc.constantFrom('\n', '\r\n')).map(([ls, eol]) => ls.join(eol));

/** Any text: plain strings, full Unicode, lone surrogates, grammar fragments and grammar-shaped lines. */
const anyText = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'binary-ascii', maxLength: 120 }),
  fragmentText,
  grammarText,
);

// Valid rule lines, with their expected parse.
interface Expected {
  methods: string[] | null;
  url: string;
  constraints: ({ kind: 'QueryParam'; name: string; pattern: string } | { kind: 'JsonData'; path: string[]; pattern: string })[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const randomCase = (s: string, flips: boolean[]): string => [...s].map((c, i) => (flips[i % flips.length] ? c.toLowerCase() : c.toUpperCase())).join('');

const validMethods = fc.oneof(
  fc.constant(null),
  fc.tuple(fc.subarray(METHODS, { minLength: 1 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), fc.array(spaces, { minLength: 2, maxLength: 2 })).map(
    ([ms, flips, [s1, s2]]) => ({ methods: ms, text: `[${ms.map((m) => `${s1}${randomCase(m, flips)}${s2}`).join(',')}]` }),
  ),
);
const literalSegment = fc.constantFrom('rest', 'api', '2', 'issue', 'KANBAN-100', 'comment', 'filter', 'user', 'extender', '1\\.0', 'worklog', '_x', '~me', 'a-b');
const wildSegment = fc.constantFrom('[^/]+', '\\d+', '[A-Z]+-\\d+', '[a-z0-9_-]+');
const segment = fc.oneof({ weight: 3, arbitrary: literalSegment }, { weight: 1, arbitrary: wildSegment });
const isLiteral = (s: string): boolean => /^[\w~.\\-]+$/.test(s);
/**
 * Safe URL regexes: literal segments, at most a couple of single-segment wildcards, `.*` only as a prefix
 * and/or a suffix. A leading `.*` is followed by a literal segment of four or more characters and at most
 * one wildcard segment: the engine's cost model (deliberately conservative, "the exact rule is yours")
 * rejects shapes like `.*\/[A-Z]+-\d+` and `.*\/[^/]+/[^/]+/.*` whose quantifiers are separated only by `/`.
 * Everything generated here has quantifiers separated by literal segments, which SPEC §2 says must parse.
 */
const validUrl = fc
  // `\\ ` at the end is an escaped space, kept as part of the regex (parse-line.ts); it must survive formatting.
  .tuple(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom('', '/', '.*', '/.*', '/?', '\\ ', '/a\\ b'))
  .filter(([leading, segs]) => (leading ? isLiteral(segs[0]!) && segs[0]!.length >= 4 && segs.filter((s) => !isLiteral(s)).length <= 1 : segs.filter((s) => !isLiteral(s)).length <= 2))
  .map(([leading, segs, tail]) => `${leading ? '.*' : ''}/${segs.join('/')}${tail}`);
const safePattern = fc.constantFrom('true', 'false', '\\d+', '[a-z]+', '(names|schema)', '2018-01-01', '.*', '[^&]*', '[A-Z]+-\\d+', 'a\\]b', '[\\]x]', 'x y', '=1', 'a\\.b', '[:=]');
const qpName = fc.stringMatching(/^[A-Za-z0-9_.:\-]{1,8}$/);
const jsonSegment = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_\-]{1,6}$/), fc.constantFrom('a.b', 'x.y.z', '0', '12', 'a\\b'));
const escapeSegment = (s: string): string => s.replace(/[\\.]/g, '\\$&');
const validConstraint = fc.oneof(
  fc.tuple(qpName, safePattern, fc.constantFrom('QueryParam', 'queryparam', 'QUERYPARAM', 'queryParam')).map(([name, pattern, kw]) => ({
    expected: { kind: 'QueryParam' as const, name, pattern },
    text: `[${kw}::${name}==${pattern}]`,
  })),
  fc.tuple(fc.array(jsonSegment, { minLength: 1, maxLength: 3 }), safePattern, fc.constantFrom('JsonData', 'jsondata', 'JSONDATA')).map(([path, pattern, kw]) => ({
    expected: { kind: 'JsonData' as const, path, pattern },
    text: `[${kw}::${path.map(escapeSegment).join('.')}==${pattern}]`,
  })),
);
const validRule = fc
  .tuple(spaces, validMethods, spaces, validUrl, fc.array(fc.tuple(validConstraint, spaces), { maxLength: 3 }), spaces)
  .map(([lead, m, gap, url, cs, trail]) => {
    // White space between the method list and the URL is ignored; without a method list it is leading white space.
    const expected: Expected = { methods: m === null ? null : m.methods, url, constraints: cs.map(([c]) => c.expected) };
    // White space after a constraint is skipped; after the URL it would belong to the URL, so none there.
    const text = `${lead}${m === null ? '' : m.text}${gap}${url}${cs.map(([c, s]) => c.text + s).join('')}${trail}`;
    return { expected, text };
  });
const filler = fc.constantFrom('', '   ', '\t', '# a comment', '   #[GET]/x', '#', '# [Bogus::a==b] (');
const validText = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: validRule.map((r) => ({ rule: r })) }, { weight: 1, arbitrary: filler.map((f) => ({ filler: f })) }), { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([items, eol, trailingEol]) => {
    const lines = items.map((it) => ('rule' in it ? it.rule.text : it.filler));
    const expected: (Expected & { line: number })[] = [];
    items.forEach((it, i) => {
      if ('rule' in it) expected.push({ ...it.rule.expected, line: i + 1 });
    });
    return { text: lines.join(eol) + (trailingEol && lines.length > 0 ? eol : ''), expected };
  });

/** Ordinary lines (SPEC §2 examples and shapes the generator once found refused) checked on every run. */
const PINNED_VALID: { text: string; expected: (Expected & { line: number })[] }[] = [
  {
    text: '[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+[QueryParam::expand==(names|schema)]',
    expected: [{ line: 1, methods: ['GET', 'POST'], url: '/rest/api/2/issue/[A-Z]+-\\d+', constraints: [{ kind: 'QueryParam', name: 'expand', pattern: '(names|schema)' }] }],
  },
  {
    text: '# filters\r\n\r\n.*/rest/api/2/filter[JsonData::editable==false][jsondata::favourite==false]',
    expected: [{ line: 3, methods: null, url: '.*/rest/api/2/filter', constraints: [{ kind: 'JsonData', path: ['editable'], pattern: 'false' }, { kind: 'JsonData', path: ['favourite'], pattern: 'false' }] }],
  },
  // `.*`, then a literal segment, then one wildcard segment and an optional slash: quantifiers separated by literals.
  { text: '.*/rest/[A-Z]+-\\d+/?', expected: [{ line: 1, methods: null, url: '.*/rest/[A-Z]+-\\d+/?', constraints: [] }] },
  { text: '.*/rest/[A-Z]+-\\d+/rest/?', expected: [{ line: 1, methods: null, url: '.*/rest/[A-Z]+-\\d+/rest/?', constraints: [] }] },
];

// ---- properties --------------------------------------------------------------------------------

describe('parseRestrictions (property-based)', () => {
  test('1. on any text it returns or throws a well-formed RestrictionSyntaxError, nothing else', () => {
    fc.assert(
      fc.property(anyText, fc.option(fc.nat({ max: 4 }), { nil: undefined }), (text, maxRules) => {
        const options = maxRules === undefined ? undefined : { maxRules };
        const outcome = attempt(text, options);
        if (outcome.ok) {
          checkRules(text, outcome.rules);
          if (maxRules !== undefined) expect(outcome.rules.length).toBeLessThanOrEqual(maxRules);
          // A parsed set can be evaluated without throwing.
          const set = parseRestrictions(text, options);
          for (const url of ['/rest/api/2/issue/JRA-1?expand=names', '/x', '/%zz', '/a?b=%zz']) {
            const d = evaluateRestrictions(set, { method: 'GET', url, contentType: 'application/json', body: { a: { b: 1 } } });
            expect(typeof d.allowed).toBe('boolean');
          }
        } else {
          checkError(text, outcome.error);
        }
      }),
      { numRuns: RUNS.big },
    );
  });

  test('1b. lines near and over the 4 KiB cap: line_too_long on that line only, never a crash', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', 'é', '😀', '.*', '['), fc.integer({ min: 1000, max: 5000 }), fc.constantFrom('', '/', '[GET]'), (unit, n, prefix) => {
        const text = `${prefix}${unit.repeat(n)}`;
        const outcome = attempt(`/ok\n${text}\n/ok2`);
        if (!outcome.ok) {
          checkError(`/ok\n${text}\n/ok2`, outcome.error);
          expect(outcome.error.errors.every((e) => e.line === 2)).toBe(true);
        }
        if (Buffer.byteLength(text, 'utf8') > 4096) {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(outcome.error.errors.map((e) => e.code)).toContain('line_too_long');
        }
      }),
      { numRuns: 100 },
    );
  });

  test('2. round trip: the canonical text of any parsing text parses to the same rules and is a fixed point', () => {
    let parsed = 0;
    fc.assert(
      fc.property(fc.oneof(anyText, grammarText, grammarText, validText.map((v) => v.text)), (text) => {
        const outcome = attempt(text);
        if (!outcome.ok) return;
        parsed++;
        checkRoundTrip(text, outcome.rules);
      }),
      { numRuns: RUNS.valid },
    );
    // The property is only meaningful when a good share of inputs parse.
    expect(parsed).toBeGreaterThan(RUNS.big / 20);
  });

  test('3. valid rule lines always parse, with the right rules and line numbers, and round-trip', () => {
    fc.assert(
      fc.property(validText, ({ text, expected }) => {
        const outcome = attempt(text);
        if (!outcome.ok) throw new Error(`valid text ${JSON.stringify(text)} was rejected: ${JSON.stringify(outcome.error.errors)}`);
        expect(outcome.rules).toHaveLength(expected.length);
        expect(outcome.rules.map((r) => r.line)).toEqual(expected.map((e) => e.line));
        expect(shape(outcome.rules)).toEqual(expected.map(({ line: _line, ...rest }) => rest));
        checkRules(text, outcome.rules);
        checkRoundTrip(text, outcome.rules);
      }),
      { numRuns: RUNS.valid, examples: PINNED_VALID.map((v) => [v]) },
    );
  });

  test('4. errors are collected for every invalid line and for no valid line', () => {
    const invalidLine = fc.constantFrom(
      { text: '[FOO]/x', code: 'unknown_method' },
      { text: '[GET,]/x', code: 'unknown_method' },
      { text: '[GET]', code: 'empty_url' },
      { text: '  [get, post]   ', code: 'empty_url' },
      { text: '[GET][QueryParam::a==b]', code: 'empty_url' },
      { text: '/x[Bogus::a==b]', code: 'unknown_constraint' },
      { text: '/x[QueryParam::a==b]junk', code: 'trailing_text' },
      { text: '/x[QueryParam::a==b] #c', code: 'trailing_text' },
      { text: '/x(', code: 'invalid_regex' },
      { text: '/x[QueryParam::a==(]', code: 'invalid_regex' },
      { text: '/x[QueryParam::a]', code: 'missing_operator' },
      { text: '/x[QueryParam::a=b]', code: 'missing_operator' },
      { text: '/x[QueryParam::==b]', code: 'empty_name' },
      { text: '/x[JsonData::a..b==c]', code: 'empty_name' },
      { text: '[GET/x', code: 'unclosed_bracket' },
      { text: '/x[a-', code: 'unclosed_bracket' },
      { text: '/x[QueryParam::a==b', code: 'unclosed_bracket' },
      { text: '(a|a)*', code: 'unsafe_regex' },
      { text: '/x/(a+)+', code: 'unsafe_regex' },
      { text: '/(x\\b)\\1', code: 'unsafe_regex' },
    );
    const validLine = fc.oneof(validRule.map((r) => r.text), filler);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(invalidLine.map((bad) => ({ bad })), validLine.map((good) => ({ good }))), { minLength: 1, maxLength: 10 }),
        fc.constantFrom('\n', '\r\n'),
        (items, eol) => {
          fc.pre(items.some((it) => 'bad' in it));
          const text = items.map((it) => ('bad' in it ? it.bad.text : it.good)).join(eol);
          const outcome = attempt(text);
          if (outcome.ok) throw new Error(`${JSON.stringify(text)} parsed but has invalid lines`);
          checkError(text, outcome.error);
          const errorLines = new Set(outcome.error.errors.map((e) => e.line));
          items.forEach((it, i) => {
            const line = i + 1;
            if ('bad' in it) {
              expect(errorLines.has(line)).toBe(true);
              expect(outcome.error.errors.filter((e) => e.line === line).map((e) => e.code)).toContain(it.bad.code);
            } else {
              expect(errorLines.has(line)).toBe(false);
            }
          });
        },
      ),
      { numRuns: RUNS.medium },
    );
  });

  test('4b. over maxRules, the only errors are too_many_rules, starting at the first rule over the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(validRule.map((r) => r.text), filler), { maxLength: 10 }), fc.nat({ max: 6 }), (lines, maxRules) => {
        const text = lines.join('\n');
        const ruleLines = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.trim() !== '' && !l.trim().startsWith('#'));
        const outcome = attempt(text, { maxRules });
        if (ruleLines.length <= maxRules) {
          expect(outcome.ok).toBe(true);
        } else {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) {
            checkError(text, outcome.error);
            const errors = outcome.error.errors;
            expect(errors.every((e) => e.code === 'too_many_rules')).toBe(true);
            expect(errors[0]!.line).toBe(ruleLines[maxRules]!.i + 1);
            const overLimit = new Set(ruleLines.slice(maxRules).map(({ i }) => i + 1));
            for (const e of errors) expect(overLimit.has(e.line)).toBe(true);
          }
        }
      }),
      { numRuns: RUNS.medium },
    );
  });
});
