import { evaluateRestrictions, formatRestrictions, lintRestrictions, parseRestrictions, RestrictionSyntaxError, type RestrictionDiagnostic } from '../../../src/index.js';

/** The errors parseRestrictions throws for `text` (fails the test when it does not throw). */
function errorsOf(text: string, options?: { maxRules?: number; maxBytes?: number }): readonly RestrictionDiagnostic[] {
  try {
    parseRestrictions(text, options);
  } catch (err) {
    expect(err).toBeInstanceOf(RestrictionSyntaxError);
    return (err as RestrictionSyntaxError).errors;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

const SPEC_EXAMPLES = [
  '.*/rest/api/2/issue/JRA.*',
  '[post].*/rest/api/2/issue/KANBAN-100/comment.*',
  '.*/rest/extender/1.0/filter/user/.*[QueryParam::permissions==true]',
  '.*rest/extender/1.0/worklog/user/.*[QueryParam::dateFrom==2018-01-01][QueryParam::dateTo==2018-12-01]',
  '.*/rest/api/2/filter[JsonData::editable==false][JsonData::favourite==false]',
  '[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+[QueryParam::expand==(names|schema)]',
];

describe('parseRestrictions', () => {
  test.each(SPEC_EXAMPLES)('parses the SPEC example %s', (line) => {
    expect(parseRestrictions(line).rules).toHaveLength(1);
  });

  test('splits a rule into methods, URL and constraints', () => {
    const [rule] = parseRestrictions('[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+[QueryParam::expand==(names|schema)][JsonData::a\\.b.c.0==x]').rules;
    expect(rule).toEqual({
      line: 1,
      methods: ['GET', 'POST'],
      url: '/rest/api/2/issue/[A-Z]+-\\d+',
      urlColumn: 11,
      constraints: [
        { kind: 'QueryParam', name: 'expand', pattern: '(names|schema)', column: 39 },
        { kind: 'JsonData', path: ['a.b', 'c', '0'], everyElement: [false, false, false], pattern: 'x', column: 75 },
      ],
    });
  });

  test('a JSON path segment `*` is every element; `\\*` is a key named `*`', () => {
    const [rule] = parseRestrictions('/x[JsonData::labels.*==a][JsonData::m.\\*.*.k==b][JsonData::a*==c]').rules;
    expect(rule!.constraints).toMatchObject([
      { path: ['labels', '*'], everyElement: [false, true] },
      { path: ['m', '*', '*', 'k'], everyElement: [false, false, true, false] },
      { path: ['a*'], everyElement: [false] },
    ]);
    expect(formatRestrictions(parseRestrictions('/x[JsonData::m.\\*.*==b]'))).toBe('/x[JsonData::m.\\*.*==b]');
    expect(lintRestrictions('/x[JsonData::a.\\q==b]').errors[0]).toMatchObject({ code: 'invalid_path' });
  });

  test('method names are case-insensitive and white space around them is ignored', () => {
    const [rule] = parseRestrictions('  [ get ,\tPost ]   /x').rules;
    expect(rule!.methods).toEqual(['GET', 'POST']);
    expect(rule!.url).toBe('/x');
  });

  test('a line without a method list admits every method (methods is null)', () => {
    expect(parseRestrictions('/x').rules[0]!.methods).toBeNull();
  });

  test('keywords are matched case-insensitively', () => {
    const [rule] = parseRestrictions('/x[queryparam::a==1][JSONDATA::b==2]').rules;
    expect(rule!.constraints.map((c) => c.kind)).toEqual(['QueryParam', 'JsonData']);
  });

  test('blank and comment lines are skipped but counted in line numbers, with \\n and \\r\\n', () => {
    const set = parseRestrictions('# comment\r\n\r\n   \n  # indented comment\n/a\r\n/b');
    expect(set.rules.map((r) => [r.line, r.url])).toEqual([
      [5, '/a'],
      [6, '/b'],
    ]);
  });

  test('trailing white space of a line is ignored, an escaped trailing space is kept', () => {
    expect(parseRestrictions('/x  \t').rules[0]!.url).toBe('/x');
    expect(parseRestrictions('/x\\  ').rules[0]!.url).toBe('/x\\ ');
  });

  test('a character class in the URL is not a constraint; `[` + identifier + `::` is', () => {
    const [rule] = parseRestrictions('[GET][a-z]+/[[:x]/\\[QueryParam::no][QueryParam::yes==1]').rules;
    expect(rule!.url).toBe('[a-z]+/[[:x]/\\[QueryParam::no]');
    expect(rule!.constraints).toHaveLength(1);
  });

  test('a constraint regex ends at the first unescaped `]` outside a class', () => {
    const [rule] = parseRestrictions('/x[QueryParam::a==[\\]x]+\\]?]').rules;
    expect(rule!.constraints[0]!.kind === 'QueryParam' && rule!.constraints[0]!.pattern).toBe('[\\]x]+\\]?');
  });

  test('a constraint regex may start with `=`', () => {
    const [rule] = parseRestrictions('/x[QueryParam::a===1]').rules;
    expect(rule!.constraints[0]).toMatchObject({ name: 'a', pattern: '=1' });
  });

  test('an empty text, or only comments, is an empty set (unrestricted)', () => {
    expect(parseRestrictions('').rules).toEqual([]);
    expect(parseRestrictions('# nothing\n\n').rules).toEqual([]);
  });

  test('the rules are frozen plain data', () => {
    const set = parseRestrictions('/x[QueryParam::a==1]');
    expect(Object.isFrozen(set.rules)).toBe(true);
    expect(Object.isFrozen(set.rules[0])).toBe(true);
    expect(JSON.parse(JSON.stringify(set))).toEqual({ rules: [{ line: 1, methods: null, url: '/x', urlColumn: 1, constraints: [{ kind: 'QueryParam', name: 'a', pattern: '1', column: 3 }] }] });
  });

  test('a non-string text is a programmer error (TypeError)', () => {
    expect(() => parseRestrictions(undefined as unknown as string)).toThrow(TypeError);
    expect(() => parseRestrictions('/x', { maxRules: -1 })).toThrow(/maxRules/);
  });

  test.each([
    [{ maxRule: 5 }, /parseRestrictions: unknown option "maxRule"; did you mean "maxRules"\?/],
    [{ maxbytes: 5 }, /did you mean "maxBytes"/],
    [{ caseInsensitive: true }, /caseInsensitive is an option of evaluation: evaluateRestrictions\(set, request, \{ caseInsensitive \}\)/],
    [{ basePath: '/jira' }, /basePath is an option of evaluation/],
    [{ maxBytes: '128kb' }, /options.maxBytes must be a non-negative integer \(bytes\)/],
    ['strict', /options must be an object/],
  ])('a mistaken option %p is a TypeError that names it and the fix', (options, message) => {
    expect(() => parseRestrictions('/x', options as never)).toThrow(TypeError);
    expect(() => parseRestrictions('/x', options as never)).toThrow(message);
  });
});

describe('parse errors', () => {
  test.each([
    ['[FOO]/x', 'unknown_method', 2],
    ['[GET,]/x', 'unknown_method', 6],
    ['[GET', 'unclosed_bracket', 1],
    ['[GET]', 'empty_url', 6],
    ['[GET][QueryParam::a==1]', 'empty_url', 6],
    ['/x[a-z', 'unclosed_bracket', 3],
    ['/x[Bogus::a==b]', 'unknown_constraint', 4],
    ['/x[QueryParam::a==b]junk', 'trailing_text', 21],
    ['/x[QueryParam::a==b] junk', 'trailing_text', 22],
    ['/x[QueryParam::a=1]', 'missing_operator', 17],
    ['/x[QueryParam::a]', 'missing_operator', 17],
    ['/x[QueryParam::==1]', 'empty_name', 16],
    ['/x[QueryParam::a b==1]', 'invalid_name', 17],
    ['/x[JsonData::a..b==1]', 'empty_name', 16],
    ['/x[JsonData::a.==1]', 'empty_name', 16],
    ['/x[JsonData::a\\x==1]', 'invalid_path', 15],
    ['/x[QueryParam::a==1', 'unclosed_bracket', 3],
    ['/x(', 'invalid_regex', 1],
    ['/x[QueryParam::a==(]', 'invalid_regex', 19],
    ['a)|(?:.*', 'invalid_regex', 1],
    ['/x\u0000', 'control_character', 3],
    ['/x\ry', 'control_character', 3],
    ['(a|a)*', 'unsafe_regex', 1],
    ['/x[QueryParam::a==(a+)+\\1]', 'unsafe_regex', 24],
    ['(a\\b)\\1', 'unsafe_regex', 6],
  ])('%j → %s at column %d', (text, code, column) => {
    const errors = errorsOf(text);
    expect(errors[0]).toMatchObject({ line: 1, column, code });
    expect(errors[0]!.message.length).toBeGreaterThan(10);
  });

  test('a value regex the analysis cannot prove cheap runs as a DFA; one a DFA cannot run is refused, saying both', () => {
    for (const text of ['/x[QueryParam::a==(a+)+]', '/x[JsonData::a==(a|aa)+b]']) {
      const set = parseRestrictions(text);
      const request = (v: string) =>
        text.includes('Query') ? { method: 'GET', url: `/x?a=${v}` } : { method: 'POST', url: '/x', contentType: 'application/json', body: { a: v } };
      const v8 = new RegExp(`^(?:${text.slice(text.indexOf('==') + 2, -1)})$`, 's');
      for (const v of ['', 'a', 'aaa', 'aab', 'ab', 'aaab', `${'a'.repeat(12)}!`]) {
        expect(evaluateRestrictions(set, request(v)).allowed).toBe(v8.test(v));
      }
      // Where V8 would take minutes (its answer is plain: no b at the end), the DFA reads the value once.
      expect(evaluateRestrictions(set, request(`${'a'.repeat(4000)}!`)).allowed).toBe(false);
    }
    const [error] = errorsOf('/x[QueryParam::a==(a+)+\\1]');
    expect(error!.message).toMatch(/^unsafe QueryParam regex: .*; nor can it run in linear time: .*back-reference/);
    // URL regexes stay with V8 and the analysis.
    expect(errorsOf('/(a+)+')[0]!.code).toBe('unsafe_regex');
  });

  test('text_too_long over maxBytes (128 KiB by default, UTF-8 bytes), naming the line that crosses it, without vetting anything', () => {
    const line = `/${'a'.repeat(1000)}`;
    const text = Array.from({ length: 130 }, () => line).join('\n');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(131_072);
    expect(parseRestrictions(text).rules).toHaveLength(130);
    const over = `${text}\n${line}`;
    expect(errorsOf(over)).toEqual([expect.objectContaining({ line: 131, column: 1, code: 'text_too_long' })]);
    expect(errorsOf(over)[0]!.message).toMatch(/longer than 131072 bytes .*options\.maxBytes/);
    // Bytes, not characters; a configured limit; a line of an unsafe regex is not even vetted.
    expect(errorsOf('/é'.repeat(6), { maxBytes: 12 })).toEqual([expect.objectContaining({ code: 'text_too_long' })]);
    expect(parseRestrictions('/é'.repeat(6), { maxBytes: 18 }).rules).toHaveLength(1);
    expect(errorsOf('(a|a)*\n/xyz', { maxBytes: 8 })).toEqual([expect.objectContaining({ line: 2, code: 'text_too_long' })]);
    expect(() => parseRestrictions('/x', { maxBytes: -1 })).toThrow(/options\.maxBytes must be a non-negative integer/);
  });

  test("the linear engine's translations of one text share a work limit, then each further one is refused", () => {
    // Each distinct regex the analysis refuses is translated: at least 10,000 units each, 1.5e6 in all.
    const lines = Array.from({ length: 200 }, (_, i) => `/v${i}[QueryParam::q${i}==(a+)+b${i}]`);
    const errors = errorsOf(lines.join('\n'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.code === 'unsafe_regex' && /translation work is used up/.test(e.message))).toBe(true);
    expect(errors[0]!.line).toBeGreaterThan(50);
    expect(errors[0]!.line).toBeLessThanOrEqual(150);
  });

  test('word boundaries, which V8 compiles in superlinear time, are bounded per regex (64) and per text (256)', () => {
    // One 4 KiB line of 1,360 `\b.` took V8 0.27 s to compile (twice: both case modes); a text of them, seconds.
    expect(parseRestrictions(`/${'\\b.'.repeat(64)}`).rules).toHaveLength(1);
    const [one] = errorsOf(`/${'\\b.'.repeat(65)}`);
    expect(one).toMatchObject({ code: 'unsafe_regex', column: 2 + 64 * 3 });
    expect(one!.message).toMatch(/more than 64 word boundaries/);
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `/${'\\b.'.repeat(60)}${i}`).join('\n');
    expect(parseRestrictions(lines(4)).rules).toHaveLength(4);
    expect(errorsOf(lines(5))).toEqual([expect.objectContaining({ line: 5, code: 'unsafe_regex', message: expect.stringMatching(/more than 256 word boundaries/) })]);
    // A regex repeated on many lines is compiled once, and counted once.
    expect(parseRestrictions(Array.from({ length: 50 }, () => `/${'\\b.'.repeat(60)}`).join('\n')).rules).toHaveLength(50);
  });

  test('a regex cannot escape the full-match anchors', () => {
    // Compiled on its own, `a)|(?:.*` is unbalanced; had it been wrapped first it would match anything.
    expect(errorsOf('/x[QueryParam::v==a)|(?:.*]')[0]!.code).toBe('invalid_regex');
  });

  test('line_too_long over 4 KiB (bytes, not characters)', () => {
    expect(errorsOf(`/${'a'.repeat(4096)}`)[0]!.code).toBe('line_too_long');
    expect(parseRestrictions(`/${'a'.repeat(4095)}`).rules).toHaveLength(1);
    expect(errorsOf(`/${'é'.repeat(2048)}`)[0]!.code).toBe('line_too_long');
  });

  test('too_many_rules over the default 1,000 and over a configured limit; comments do not count', () => {
    const rules = (n: number) => Array.from({ length: n }, (_, i) => `/r${i}`).join('\n');
    expect(parseRestrictions(`# c\n${rules(1000)}`).rules).toHaveLength(1000);
    expect(errorsOf(rules(1001))).toEqual([expect.objectContaining({ line: 1001, code: 'too_many_rules' })]);
    expect(errorsOf(rules(3), { maxRules: 2 })[0]).toMatchObject({ line: 3, code: 'too_many_rules' });
  });

  test('a whole set has a cost budget: each distinct regex counts once, and the line that crosses it is named', () => {
    // Each line is within the line budget (about 1.3e7 at 8 KiB), and distinct, so none is shared.
    const costly = (i: number) => `.*[/]r[e]st[/].*[/]i[s]s[u]e[/]${String(i).split('').map((d) => `[${d}]`).join('')}`;
    expect(() => parseRestrictions(costly(1))).not.toThrow();
    const errors = errorsOf([1, 2, 3, 4, 5].map(costly).join('\n'));
    expect(errors.map((e) => [e.line, e.code])).toEqual([[2, 'unsafe_regex']]);
    expect(errors[0]!.message).toMatch(/^with this line the set's regexes may take about .* \(the budget of a set is 2\.5e\+7\)/);
    // The same costly regex repeated is compiled and tried once: it counts once.
    expect(() => parseRestrictions(Array.from({ length: 10 }, (_, i) => `[GET,PUT]${costly(1)}\n[POST]${costly(1)}[QueryParam::n==${i}]`).join('\n'))).not.toThrow();
    // A thousand ordinary rules fit easily.
    expect(parseRestrictions(Array.from({ length: 1000 }, (_, i) => `[GET]/rest/api/2/project/P${i}/.*`).join('\n')).rules).toHaveLength(1000);
  });

  test('a separator made long by exact repetitions is analysed without a quadratic search (and, unprovable, refused)', () => {
    const line = `.*${`(?:${'a'.repeat(130)}){64}`.repeat(8)}b.*!`;
    expect(errorsOf(line).map((e) => e.code)).toEqual(['unsafe_regex']);
  });

  test('errors of all lines are collected and thrown together, line numbers counting blank and comment lines', () => {
    const errors = errorsOf('[FOO]/x\n# ok\n/fine\n\n[GET]\n/y[Nope::a==b]\n/z(');
    expect(errors.map((e) => [e.line, e.code])).toEqual([
      [1, 'unknown_method'],
      [5, 'empty_url'],
      [6, 'unknown_constraint'],
      [7, 'invalid_regex'],
    ]);
  });

  test('several bad regexes on one line are all reported', () => {
    const errors = errorsOf('/x([QueryParam::a==(][JsonData::b==[]');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    const two = errorsOf('/x[QueryParam::a==(][JsonData::b==)]');
    expect(two.map((e) => e.code)).toEqual(['invalid_regex', 'invalid_regex']);
  });

  test('the error message summarises the first error and counts the rest', () => {
    try {
      parseRestrictions('[FOO]/x\n[BAR]/y');
      throw new Error('should not parse');
    } catch (err) {
      expect(err).toBeInstanceOf(RestrictionSyntaxError);
      expect((err as Error).message).toMatch(/line 1, column 2: unknown method `FOO`.*\(and 1 more\)/);
      expect((err as RestrictionSyntaxError).code).toBe('restriction_syntax');
    }
  });
});
