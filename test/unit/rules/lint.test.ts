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
    ['.*/rest/api/2/issue/.*', 'context_path'],
    ['.*rest/extender/1.0/worklog/user/.*', 'context_path'],
    ['(?:.*)/rest/api/2/issue/.*', 'leading_wildcard'],
    ['(.*)/rest/api/2/issue/.*', 'leading_wildcard'],
    ['^(?:.*)/rest/api/2/issue/.*', 'leading_wildcard'],
    ['^.*/rest/api/2/issue/.*', 'context_path'],
    ['[GET][\\s\\S]*/rest/x', 'leading_wildcard'],
    ['/x[JsonData::v==(false|no)]', 'mixed_json_literal'],
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

  test('ordinary SPEC examples only get the context path note', () => {
    const result = lintRestrictions('.*/rest/api/2/filter[JsonData::editable==false][JsonData::favourite==false]');
    expect(result.warnings.map((w) => w.code)).toEqual(['context_path']);
    expect(result.warnings[0]!.message).toContain('does not match /anything/rest/api/2/filter');
    expect(lintRestrictions('.*rest/x/.*').warnings[0]!.message).toContain('does not match /anything/rest/x/');
  });

  test('a JSON literal alone, or text that cannot be a literal, is no mixed literal', () => {
    for (const text of ['/x[JsonData::v==false]', '/x[JsonData::v==(true|false)]', '/x[JsonData::v==yes]', '/x[QueryParam::v==(false|no)]']) {
      expect(lintRestrictions(text).warnings.map((w) => w.code)).not.toContain('mixed_json_literal');
    }
  });

  test('shadowing reads a leading .* as the context path', () => {
    // .*/rest/.* no longer covers (?:.*)/a/rest/x, which matches any prefix.
    expect(codes('.*/rest/.*\n(?:.*)/a/rest/x')).toEqual(['1:context_path', '2:leading_wildcard']);
    expect(codes('.*/rest/.*\n/rest/x')).toEqual(['1:context_path', '2:shadowed_rule']);
  });
});
