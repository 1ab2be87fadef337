import { formatRestrictions, formatRule, parseRestrictions } from '../../../src/index.js';

const strip = (text: string) => parseRestrictions(text).rules.map(({ methods, url, constraints }) => ({
  methods,
  url,
  constraints: constraints.map(({ column: _column, ...c }) => c),
}));

describe('formatRestrictions', () => {
  test('canonical text: upper-case methods, canonical keywords, no comments or blank lines', () => {
    const text = '# header\n\n  [get , post]   /x[queryparam::a==1][JSONDATA::b\\.c.d==2]  \r\n/y';
    expect(formatRestrictions(parseRestrictions(text))).toBe('[GET,POST]/x[QueryParam::a==1][JsonData::b\\.c.d==2]\n/y');
  });

  test('parsing the canonical text gives an equal set (round trip) and formatting is a fixed point', () => {
    const text = [
      '.*/rest/api/2/issue/JRA.*',
      '[post].*/rest/api/2/issue/KANBAN-100/comment.*',
      '[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+[QueryParam::expand==(names|schema)]',
      '[GET] [a-z]+/x',
      '/x [QueryParam::a===b]',
      '/x[JsonData::a\\\\b\\.c==[\\]]]',
    ].join('\n');
    const canonical = formatRestrictions(parseRestrictions(text));
    expect(strip(canonical)).toEqual(strip(text));
    expect(formatRestrictions(parseRestrictions(canonical))).toBe(canonical);
  });

  test('formats one rule and accepts a plain rule array', () => {
    const set = parseRestrictions('[get]/a\n/b');
    expect(formatRule(set.rules[0]!)).toBe('[GET]/a');
    expect(formatRestrictions(set.rules)).toBe('[GET]/a\n/b');
    expect(() => formatRestrictions('x' as never)).toThrow(TypeError);
  });
});
