import { lintRestrictions } from '../../../src/index.js';

const codes = (text: string) => lintRestrictions(text).warnings.map((w) => `${w.line}:${w.code}`);

describe('lintRestrictions', () => {
  test('returns parse errors without throwing, ok false', () => {
    const result = lintRestrictions('[FOO]/x\n/fine');
    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([expect.objectContaining({ line: 1, code: 'unknown_method' })]);
  });

  test('clean text: ok, no warnings', () => {
    expect(lintRestrictions('[GET]/rest/api/2/issue/[A-Z]+-\\d+\n[POST]/rest/api/2/issue/KANBAN-100/comment')).toEqual({ ok: true, errors: [], warnings: [] });
  });

  test.each([
    ['rest/api/2/issue/.*', 'unmatchable_url'],
    ['(?!/admin).*', 'denylist_pattern'],
    ['/x[QueryParam::a==(?!admin).*]', 'denylist_pattern'],
    ['.*/rest/api/2/issue/.*', 'leading_wildcard'],
    ['/x[QueryParam::a==1][QueryParam::a==1]', 'duplicate_constraint'],
    ['/x[JsonData::a.b==1][JsonData::a.b==2]', 'duplicate_constraint'],
    ['[GET,get]/x', 'duplicate_method'],
    ['/x [QueryParam::a==1]', 'url_trailing_whitespace'],
    ['/rest/api/', 'trailing_slash'],
    ['/rest/api\\?a=1', 'query_in_url'],
  ])('%s warns %s', (text, code) => {
    const result = lintRestrictions(text);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.code)).toContain(code);
  });

  test('a rule shadowed by an earlier broader rule', () => {
    expect(codes('/rest/.*\n[GET]/rest/api/2/issue/JRA-1')).toEqual(['2:shadowed_rule']);
    expect(codes('[GET]/rest/api/.*\n[GET]/rest/api/2/x[QueryParam::a==1]')).toEqual(['2:shadowed_rule']);
    expect(codes('[GET]/x\n[HEAD]/x')).toEqual(['2:shadowed_rule']);
    // Not shadowed: narrower method, extra constraint on the earlier rule, or a different URL.
    expect(codes('[GET]/rest/.*\n[POST]/rest/x')).toEqual([]);
    expect(codes('/rest/.*[QueryParam::a==1]\n/rest/x')).toEqual([]);
    expect(codes('/rest/a.*\n/rest/b')).toEqual([]);
    expect(codes('[HEAD]/x\n[GET]/x')).toEqual([]);
  });

  test('ordinary SPEC examples only get the leading wildcard note', () => {
    const result = lintRestrictions('.*/rest/api/2/filter[JsonData::editable==false][JsonData::favourite==false]');
    expect(result.warnings.map((w) => w.code)).toEqual(['leading_wildcard']);
  });
});
