import { evaluateRestrictions, parseRestrictions, type EvaluateOptions, type RestrictionRequest } from '../../../src/index.js';

const decide = (rules: string, request: RestrictionRequest, options?: EvaluateOptions) =>
  evaluateRestrictions(parseRestrictions(rules), request, options);
const get = (url: string) => ({ method: 'GET', url });
const json = (body: unknown, contentType = 'application/json') => ({ method: 'POST', url: '/x', contentType, body });

describe('§3 decisions', () => {
  test('OR across lines: the first rule whose parts all hold decides, with its line', () => {
    const set = parseRestrictions('# c\n[POST]/x\n/x[QueryParam::a==1]\n/x');
    expect(evaluateRestrictions(set, get('/x?a=1'))).toMatchObject({ allowed: true, line: 3 });
    expect(evaluateRestrictions(set, get('/x?a=2'))).toMatchObject({ allowed: true, line: 4 });
    expect(evaluateRestrictions(set, { method: 'POST', url: '/x' })).toMatchObject({ allowed: true, line: 2 });
  });

  test('AND within a line: every constraint must hold', () => {
    const rules = '/x[QueryParam::a==1][QueryParam::b==2]';
    expect(decide(rules, get('/x?a=1&b=2')).allowed).toBe(true);
    expect(decide(rules, get('/x?a=1&b=3'))).toMatchObject({ allowed: false, reason: 'no_rule_matched' });
  });

  test('no rule lines: unrestricted, but canonicalization still applies', () => {
    expect(decide('', get('/anything/at/all'))).toMatchObject({ allowed: true, line: undefined });
    expect(decide('# only a comment', get('/a/../b'))).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
  });

  test('denials explain which part of each rule failed', () => {
    const d = decide('[POST]/x\n/y\n/x[QueryParam::a==1]', get('/x?a=2'));
    expect(d.explanation).toContain('line 1: method GET is not in [POST]');
    expect(d.explanation).toContain('line 2: path "/x" does not match "/y"');
    expect(d.explanation).toContain('line 3: QueryParam::a: the value of "a" does not match "1"');
    expect(decide('/x[QueryParam::a==1]', get('/x?a=s3cret')).explanation).not.toContain('s3cret');
    expect(decide('/x[JsonData::a==1]', json({ a: 's3cret' })).explanation).not.toContain('s3cret');
    expect(decide('/x', get('/x')).explanation).toBe('allowed by line 1: /x');
    expect(JSON.parse(JSON.stringify(d))).toEqual({ allowed: false, reason: 'no_rule_matched', explanation: d.explanation });
  });
});

describe('§3.1 canonical path', () => {
  test.each([
    ['no leading slash', 'rest/x'],
    ['absolute form', 'http://h/rest/x'],
    ['//', '/rest//x'],
    ['. segment', '/rest/./x'],
    ['.. segment', '/rest/../x'],
    ['trailing ..', '/rest/..'],
    ['backslash', '/rest\\x'],
    ['semicolon', '/rest/x;jsessionid=1'],
    ['control', '/rest/\tx'],
    ['raw non-ASCII', '/rest/é'],
    ['invalid escape', '/rest/%zz'],
    ['truncated escape', '/rest/%4'],
    ['non-UTF-8 escape', '/rest/%FF'],
    ['overlong dot', '/rest/%C0%AE%C0%AE/x'],
    ['encoded /', '/rest/..%2Fx'],
    ['encoded \\', '/rest/%5cx'],
    ['encoded ;', '/rest/x%3Bv=1'],
    ['encoded %', '/rest/%252e%252e/x'],
    ['encoded .', '/rest/%2e%2e/x'],
    ['encoded NUL', '/rest/x%00'],
    ['encoded LF', '/rest/x%0a'],
    ['encoded C1 control', '/rest/x%C2%85'],
    ['fragment', '/rest/x#y'],
    ['over 8 KiB', `/${'a'.repeat(8192)}`],
  ])('%s is ambiguous_path even when a rule would match', (_, url) => {
    expect(decide('.*', get(url))).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
  });

  test('is decoded once and only the path is matched', () => {
    expect(decide('/rest/api', get('/rest/%61pi')).allowed).toBe(true);
    expect(decide('/rest/a%41', get('/rest/a%2541')).allowed).toBe(false);
    expect(decide('/x', get('/x?/y')).allowed).toBe(true);
    expect(decide('.*y.*', get('/x?y')).allowed).toBe(false);
    expect(decide('/a b', get('/a%20b')).allowed).toBe(true);
  });
});

describe('§3.3 a leading .* stands for the context path only', () => {
  test('at the root it matches nothing: .*/rest/x does not admit /anything/rest/x', () => {
    const rule = '.*/rest/api/2/filter[QueryParam::permissions==true]';
    expect(decide(rule, get('/rest/api/2/filter?permissions=true')).allowed).toBe(true);
    expect(decide(rule, get('/rest/api/2/admin/rest/api/2/filter?permissions=true')).allowed).toBe(false);
    for (const lead of ['.*', '.*?', '.+', '.+?']) {
      expect(decide(`${lead}/rest/x`, get('/rest/x')).allowed).toBe(true);
      expect(decide(`${lead}/rest/x`, get('/a/rest/x')).allowed).toBe(false);
    }
  });

  test('the seeds form without a slash takes the context path and the slash', () => {
    const rule = '.*rest/extender/1.0/worklog/user/.*';
    expect(decide(rule, get('/rest/extender/1.0/worklog/user/bob')).allowed).toBe(true);
    expect(decide(rule, get('/a/rest/extender/1.0/worklog/user/bob')).allowed).toBe(false);
    expect(decide(rule, get('/rest/extender/1.0/worklog/user/bob'), { basePath: '/jira' }).allowed).toBe(false);
    expect(decide(rule, get('/jira/rest/extender/1.0/worklog/user/bob'), { basePath: '/jira' }).allowed).toBe(true);
  });

  test('basePath is the context path, matched literally', () => {
    const o = { basePath: '/jira' };
    expect(decide('.*/rest/x', get('/jira/rest/x'), o).allowed).toBe(true);
    expect(decide('.*/rest/x', get('/rest/x'), o).allowed).toBe(false);
    expect(decide('.*/rest/x', get('/jir/rest/x'), o).allowed).toBe(false);
    expect(decide('.*/rest/x', get('/a/jira/rest/x'), o).allowed).toBe(false);
    expect(decide('.*/rest/x', get('/j.ra/rest/x'), { basePath: '/j.ra' }).allowed).toBe(true);
    expect(decide('.*/rest/x', get('/jxra/rest/x'), { basePath: '/j.ra' }).allowed).toBe(false);
    // Each top-level alternative is read on its own.
    expect(decide('.*/a|.*/b', get('/jira/b'), o).allowed).toBe(true);
    expect(decide('.*/a|.*/b', get('/x/b'), o).allowed).toBe(false);
  });

  test('other spellings of the same rule read the same: ^.*, [/], a group that starts with /, a leading group of alternatives', () => {
    for (const rule of ['^.*/rest/x', '.*[/]rest/x', '.*\\/rest/x', '.*(?:/rest/x)', '(?:.*/rest/x|.*/rest/y)', '(.*/rest/x)', '.*(?:/rest/x|/rest/y)']) {
      expect([rule, decide(rule, get('/rest/x')).allowed]).toEqual([rule, true]);
      expect([rule, decide(rule, get('/a/b/rest/x')).allowed]).toEqual([rule, false]);
      expect([rule, decide(rule, get('/rest/x/rest/x')).allowed]).toEqual([rule, false]);
    }
    // A group that holds nothing but the wildcard is the explicit any-prefix, captured or not.
    for (const rule of ['(?:.*)/rest/x', '(.*)/rest/x', '^(?:.*)/rest/x']) expect([rule, decide(rule, get('/a/b/rest/x')).allowed]).toEqual([rule, true]);
  });

  test('everything else keeps its meaning: (?:.*) is the explicit any-prefix, and a .* that starts no path stays a wildcard', () => {
    expect(decide('(?:.*)/rest/x', get('/a/b/rest/x')).allowed).toBe(true);
    expect(decide('.*', get('/anything/at/all')).allowed).toBe(true);
    expect(decide('.*\\.json', get('/a/b.json')).allowed).toBe(true);
    expect(decide('.*a.json', get('/x/ya.json')).allowed).toBe(true);
    expect(decide('/rest/.*/issue', get('/rest/a/b/issue')).allowed).toBe(true);
  });

  test('the explanation says what the leading .* stood for', () => {
    expect(decide('.*/rest/x', get('/a/rest/x')).explanation).toContain('stands for the context path "" only');
    expect(decide('.*/rest/x', get('/a/rest/x'), { basePath: '/jira' }).explanation).toContain('context path "/jira" only');
  });
});

describe('§3.2 mirror the router', () => {
  test('case-sensitive unless caseInsensitive (SPEC §3.2: captured values keep their case)', () => {
    expect(decide('/rest/api', get('/REST/Api')).allowed).toBe(false);
    expect(decide('/rest/api/2/issue/JRA-\\d+', get('/rest/api/2/issue/jra-1')).allowed).toBe(false);
    expect(decide('/rest/api/2/issue/JRA-\\d+', get('/rest/api/2/issue/JRA-1')).allowed).toBe(true);
    expect(decide('/rest/api', get('/REST/Api'), { caseInsensitive: true }).allowed).toBe(true);
    expect(decide('/rest/api', get('/rest/api'), { caseInsensitive: true }).allowed).toBe(true);
  });

  test('a refusal that differs only in case says so', () => {
    const d = decide('[GET]/rest/api/2/issue/JRA-\\d+\n[GET]/other', get('/rest/api/2/issue/jra-1'));
    expect(d.allowed).toBe(false);
    expect(d.explanation).toContain('line 1: path "/rest/api/2/issue/jra-1" does not match "/rest/api/2/issue/JRA-\\\\d+"; it would match ignoring case');
    expect(d.explanation).not.toMatch(/line 2:.*ignoring case/);
    expect(decide('[GET]/rest/api/2/issue/JRA-\\d+', get('/rest/api/2/issue/KAN-1')).explanation).not.toContain('ignoring case');
  });

  test('the removed caseSensitive option is a TypeError that names the replacement', () => {
    expect(() => decide('/x', get('/x'), { caseSensitive: false } as EvaluateOptions)).toThrow(/caseInsensitive: true/);
    expect(() => decide('/x', get('/x'), { basePath: 'jira' })).toThrow(TypeError);
    expect(() => decide('/x', get('/x'), { basePath: '/jira/' })).toThrow(TypeError);
  });

  test.each([
    [{ Strict: true }, /evaluateRestrictions: unknown option "Strict"; did you mean "strict"\?/],
    [{ caseInsensitiv: true }, /did you mean "caseInsensitive"/],
    [{ strict: 'yes' }, /options.strict must be a boolean/],
    [{ caseInsensitive: 1 }, /options.caseInsensitive must be a boolean/],
  ])('a mistaken option %p is a TypeError that names it', (options, message) => {
    expect(() => decide('/x', get('/x'), options as never)).toThrow(TypeError);
    expect(() => decide('/x', get('/x'), options as never)).toThrow(message);
  });

  test('one trailing slash dropped unless strict', () => {
    expect(decide('/x', get('/x/')).allowed).toBe(true);
    expect(decide('/x', get('/x/'), { strict: true }).allowed).toBe(false);
    expect(decide('/x/', get('/x/'), { strict: true }).allowed).toBe(true);
    expect(decide('/', get('/')).allowed).toBe(true);
  });
});

describe('§3.3 full match', () => {
  test('the whole value must match, and `.` matches new lines', () => {
    expect(decide('/x', get('/x/y')).allowed).toBe(false);
    expect(decide('/x', get('/a/x')).allowed).toBe(false);
    expect(decide('/x[QueryParam::v==a.b]', get('/x?v=a%0Ab')).allowed).toBe(true);
    expect(decide('/x[QueryParam::v==a]', get('/x?v=ab')).allowed).toBe(false);
    expect(decide('/x[JsonData::v==.*]', json({ v: 'line1\nline2' })).allowed).toBe(true);
  });

  test('alternation in a rule stays inside the anchors', () => {
    expect(decide('/a|/b', get('/a')).allowed).toBe(true);
    expect(decide('/a|/b', get('/a/evil')).allowed).toBe(false);
    expect(decide('/x[QueryParam::v==1|2]', get('/x?v=12')).allowed).toBe(false);
  });
});

describe('§3.4 method', () => {
  test('no list admits every method, even unknown ones', () => {
    for (const method of ['GET', 'DELETE', 'PROPFIND', 'options']) expect(decide('/x', { method, url: '/x' }).allowed).toBe(true);
  });

  test('GET admits HEAD; HEAD does not admit GET; request methods are case-insensitive', () => {
    expect(decide('[GET]/x', { method: 'HEAD', url: '/x' }).allowed).toBe(true);
    expect(decide('[HEAD]/x', get('/x')).allowed).toBe(false);
    expect(decide('[post]/x', { method: 'post', url: '/x' }).allowed).toBe(true);
    expect(decide('[GET,POST]/x', { method: 'PUT', url: '/x' }).allowed).toBe(false);
    expect(decide('[GET]/x', { method: 'PROPFIND', url: '/x' }).allowed).toBe(false);
  });
});

describe('§3.5 QueryParam', () => {
  const rule = '/x[QueryParam::expand==(names|schema)]';
  test.each([
    ['expand=names', true],
    ['expand=names&expand=schema', false],
    ['expand=names&expand=names', false],
    ['expand=names&expand', false],
    ['expand=names&%65xpand=names', false],
    ['expand=names&expand=all', false],
    ['expand=all&expand=names', false],
    ['other=1', false],
    ['', false],
    ['expand[]=names', false],
    ['expand=names&expand[]=all', false],
    ['expand=names&expand[x]=all', false],
    ['expand=names&expand.x=all', false],
    ['expand=names&expand%5B%5D=all', false],
    ['%65xpand=names', true],
    ['Expand=names', false],
    ['expand=na%6Des', true],
    ['expand=names&x=%zz', false],
  ])('?%s → %s', (query, allowed) => {
    expect(decide(rule, get(`/x?${query}`)).allowed).toBe(allowed);
  });

  test('+ is a space, a pair without = has the empty value, split on the first =', () => {
    expect(decide('/x[QueryParam::q==a b]', get('/x?q=a+b')).allowed).toBe(true);
    expect(decide('/x[QueryParam::q==a+b]', get('/x?q=a%2Bb')).allowed).toBe(false);
    expect(decide('/x[QueryParam::q==a\\+b]', get('/x?q=a%2Bb')).allowed).toBe(true);
    expect(decide('/x[QueryParam::flag==]', get('/x?flag')).allowed).toBe(true);
    expect(decide('/x[QueryParam::q==a=b]', get('/x?q=a=b')).allowed).toBe(true);
    expect(decide('/x[QueryParam::q==a&b]', get('/x?q=a%26b')).allowed).toBe(true);
  });

  test('an invalid escape anywhere makes QueryParam constraints fail with ambiguous_query', () => {
    expect(decide(rule, get('/x?expand=names&junk=%E0%A4'))).toMatchObject({ allowed: false, reason: 'ambiguous_query' });
    // A rule without QueryParam constraints still applies.
    expect(decide(`${rule}\n/x`, get('/x?expand=%zz'))).toMatchObject({ allowed: true, line: 2 });
    // When no QueryParam rule got as far as its constraint, the reason is no_rule_matched.
    expect(decide(rule, get('/y?expand=%zz'))).toMatchObject({ allowed: false, reason: 'no_rule_matched' });
  });

  test('caps: query string over 8 KiB, value over 4 KiB', () => {
    const anyValue = '/x[QueryParam::v==.*]';
    expect(decide(anyValue, get(`/x?v=${'a'.repeat(4096)}`)).allowed).toBe(true);
    expect(decide(anyValue, get(`/x?v=${'a'.repeat(4097)}`)).allowed).toBe(false);
    expect(decide(anyValue, get(`/x?v=1&pad=${'a'.repeat(8190)}`)).allowed).toBe(false);
  });
});

describe('§3.6 JsonData', () => {
  const rule = '/x[JsonData::editable==false]';
  test('only application/json and application/*+json bodies', () => {
    expect(decide(rule, json({ editable: false })).allowed).toBe(true);
    expect(decide(rule, json({ editable: false }, 'application/json; charset=utf-8')).allowed).toBe(true);
    expect(decide(rule, json({ editable: false }, 'Application/JSON')).allowed).toBe(true);
    expect(decide(rule, json({ editable: false }, 'application/vnd.api+json')).allowed).toBe(true);
    expect(decide(rule, json({ editable: false }, 'text/plain')).allowed).toBe(false);
    expect(decide(rule, json({ editable: false }, 'application/x-www-form-urlencoded')).allowed).toBe(false);
    expect(decide(rule, json({ editable: false }, 'application/jsonx')).allowed).toBe(false);
    expect(decide(rule, json({ editable: false }, 'text/json')).allowed).toBe(false);
    expect(decide(rule, { method: 'POST', url: '/x', body: { editable: false } }).allowed).toBe(false);
  });

  test('a plain name is a top-level key, never a search of the tree', () => {
    expect(decide(rule, json({ nested: { editable: false }, editable: true })).allowed).toBe(false);
    expect(decide(rule, json({ nested: { editable: false } })).allowed).toBe(false);
    expect(decide('/x[JsonData::nested.editable==false]', json({ nested: { editable: false } })).allowed).toBe(true);
  });

  test('own properties only, never the prototype', () => {
    expect(decide('/x[JsonData::toString==.*]', json({})).allowed).toBe(false);
    expect(decide('/x[JsonData::constructor.name==Object]', json({})).allowed).toBe(false);
    expect(decide('/x[JsonData::__proto__.x==1]', json(JSON.parse('{"__proto__":{"x":"1"}}'))).allowed).toBe(true);
    expect(decide('/x[JsonData::a.x==1]', json({ a: Object.create({ x: '1' }) })).allowed).toBe(false);
    expect(decide('/x[JsonData::length==1]', json(['a'])).allowed).toBe(false);
    expect(decide('/x[JsonData::a.length==3]', json({ a: 'abc' })).allowed).toBe(false);
  });

  test('scalars: strings, finite numbers via String(n), booleans, null', () => {
    expect(decide('/x[JsonData::v==1]', json({ v: 1 })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==1000]', json(JSON.parse('{"v":1e3}'))).allowed).toBe(true);
    expect(decide('/x[JsonData::v==0]', json({ v: -0 })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==1\\.5]', json({ v: 1.5 })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==true]', json({ v: true })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==null]', json({ v: null })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==tr.*]', json({ v: 'truthy' })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==.*]', json({ v: { a: 1 } })).allowed).toBe(false);
    expect(decide('/x[JsonData::v==.*]', json({})).allowed).toBe(false);
    expect(decide('/x[JsonData::v==Infinity]', json({ v: Infinity })).allowed).toBe(false);
  });

  test('a regex that can only match true, false or null means the JSON literal, never a string', () => {
    for (const [pattern, literal] of [['false', false], ['true', true], ['null', null], ['(true|false)', true], ['(?:fals)e', false]] as const) {
      const rule = `/x[JsonData::v==${pattern}]`;
      expect(decide(rule, json({ v: literal })).allowed).toBe(true);
      expect(decide(rule, json({ v: String(literal) })).allowed).toBe(false);
      expect(decide(rule, json({ v: [literal] })).allowed).toBe(false);
      expect(decide(rule, json({ v: [String(literal)] })).allowed).toBe(false);
    }
    expect(decide('/x[JsonData::v==false]', json({ v: 'false' })).explanation).toContain('means the JSON literal');
    // A regex that also matches other text keeps matching strings, "false" among them.
    expect(decide('/x[JsonData::v==(false|no)]', json({ v: 'no' })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==(false|no)]', json({ v: 'false' })).allowed).toBe(true);
    // One that cannot be analysed (a lookahead) refuses only the three words as strings: fail closed.
    expect(decide('/x[JsonData::v==(?=.)\\w+]', json({ v: 'false' })).allowed).toBe(false);
    expect(decide('/x[JsonData::v==(?=.)\\w+]', json({ v: false })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==(?=.)\\w+]', json({ v: 'word' })).allowed).toBe(true);
  });

  test('an array never satisfies a plain path; `*` is every element of a non-empty array', () => {
    const r = '/x[JsonData::ids==\\d+]';
    expect(decide(r, json({ ids: [1, '2', 3] })).allowed).toBe(false);
    expect(decide(r, json({ ids: ['1'] })).explanation).toContain('is an array');
    expect(decide('/x[JsonData::visibility.type==role]', json({ visibility: { type: ['role'] } })).allowed).toBe(false);
    const every = '/x[JsonData::ids.*==\\d+]';
    expect(decide(every, json({ ids: [1, '2', 3] })).allowed).toBe(true);
    expect(decide(every, json({ ids: [1, 'x'] })).allowed).toBe(false);
    expect(decide(every, json({ ids: [] })).allowed).toBe(false);
    expect(decide(every, json({ ids: 1 })).allowed).toBe(false);
    expect(decide(every, json({ ids: [[1]] })).allowed).toBe(false);
    expect(decide(every, json({ ids: [{ a: 1 }] })).allowed).toBe(false);
    // eslint-disable-next-line no-sparse-arrays
    expect(decide(every, json({ ids: [1, , 3] })).allowed).toBe(false);
    expect(decide('/x[JsonData::items.*.id==[ab]]', json({ items: [{ id: 'a' }, { id: 'b' }] })).allowed).toBe(true);
    expect(decide('/x[JsonData::items.*.id==[ab]]', json({ items: [{ id: 'a' }, { name: 'b' }] })).allowed).toBe(false);
    expect(decide('/x[JsonData::m.*.*==1]', json({ m: [[1, 1], [1]] })).allowed).toBe(true);
    expect(decide('/x[JsonData::m.*.*==1]', json({ m: [[1, 1], []] })).allowed).toBe(false);
    // `\*` is a key named `*`, and `*` never matches an object's keys.
    expect(decide('/x[JsonData::m.\\*==1]', json({ m: { '*': 1 } })).allowed).toBe(true);
    expect(decide('/x[JsonData::m.*==1]', json({ m: { '*': 1 } })).allowed).toBe(false);
    expect(decide('/x[JsonData::m.*==1]', json({ m: { a: 1 } })).allowed).toBe(false);
    expect(decide('/x[JsonData::items.1.id==b]', json({ items: [{ id: 'a' }, { id: 'b' }] })).allowed).toBe(true);
    expect(decide('/x[JsonData::items.2.id==b]', json({ items: [{ id: 'a' }, { id: 'b' }] })).allowed).toBe(false);
    expect(decide('/x[JsonData::items.01==b]', json({ items: ['a', 'b'] })).allowed).toBe(false);
    expect(decide('/x[JsonData::m.0==b]', json({ m: { 0: 'b' } })).allowed).toBe(true);
    expect(decide('/x[JsonData::0==b]', json(['b'])).allowed).toBe(true);
  });

  test('a literal dot in a key is written \\.', () => {
    expect(decide('/x[JsonData::a\\.b==1]', json({ 'a.b': 1 })).allowed).toBe(true);
    expect(decide('/x[JsonData::a\\.b==1]', json({ a: { b: 1 } })).allowed).toBe(false);
  });

  test('caps: a string over 4 KiB, array text over 8 KiB', () => {
    expect(decide('/x[JsonData::v==a*]', json({ v: 'a'.repeat(4096) })).allowed).toBe(true);
    expect(decide('/x[JsonData::v==a*]', json({ v: 'a'.repeat(4097) })).allowed).toBe(false);
    expect(decide('/x[JsonData::v==a*]', json({ v: 'é'.repeat(2049) })).allowed).toBe(false);
    expect(decide('/x[JsonData::v.*==a*]', json({ v: ['a'.repeat(4000), 'a'.repeat(4000)] })).allowed).toBe(true);
    expect(decide('/x[JsonData::v.*==a*]', json({ v: ['a'.repeat(4000), 'a'.repeat(4000), 'a'.repeat(400)] })).allowed).toBe(false);
    expect(decide('/x[JsonData::v.*==a*]', json({ v: Array.from({ length: 1024 }, () => '') })).allowed).toBe(true);
    expect(decide('/x[JsonData::v.*==a*]', json({ v: Array.from({ length: 1025 }, () => '') })).allowed).toBe(false);
  });

  test('a body that is not a JSON object never resolves a path', () => {
    expect(decide(rule, json('editable')).allowed).toBe(false);
    expect(decide(rule, json(null)).allowed).toBe(false);
    expect(decide(rule, json(new Map([['editable', false]]))).allowed).toBe(false);
  });
});

describe('bad input and misuse', () => {
  test('a request with missing or odd fields is denied, not thrown', () => {
    const set = parseRestrictions('/x');
    expect(evaluateRestrictions(set, {} as RestrictionRequest)).toMatchObject({ allowed: false, reason: 'ambiguous_path' });
    expect(evaluateRestrictions(set, { method: 42 as unknown as string, url: '/x' }).allowed).toBe(true);
    expect(evaluateRestrictions(parseRestrictions('[GET]/x'), { method: 42 as unknown as string, url: '/x' }).allowed).toBe(false);
  });

  test('a set that did not come from parseRestrictions is a TypeError', () => {
    expect(() => evaluateRestrictions({ rules: [] } as never, get('/x'))).toThrow(TypeError);
  });
});

describe('case folding mirrors the regex engine', () => {
  test('a non-ASCII character never matches an ASCII one, in the literal fast paths too', () => {
    // U+212A KELVIN SIGN lower-cases to "k" with toLowerCase, but `i` regexes without `u` keep them apart.
    const kelvin = '%E2%84%AA';
    const ci = { caseInsensitive: true };
    expect(decide('/k', get(`/${kelvin}`), ci).allowed).toBe(false);
    expect(decide('/k.*', get(`/${kelvin}x`), ci).allowed).toBe(false);
    expect(decide('/K', get('/k'), ci).allowed).toBe(true);
    const many = Array.from({ length: 30 }, (_, i) => `/park${i}`).join('\n');
    expect(decide(many, get(`/par${kelvin}7`), ci).allowed).toBe(false);
    expect(decide(many, get('/PARK7'), ci).allowed).toBe(true);
    expect(decide(many, get('/PARK7')).allowed).toBe(false);
    expect(decide(many, get('/park7')).allowed).toBe(true);
  });

  test('a literal constraint compares exactly, like its regex', () => {
    expect(decide('/x[QueryParam::jql==project = P1]', get('/x?jql=project+%3D+P1')).allowed).toBe(true);
    expect(decide('/x[QueryParam::jql==project = P1]', get('/x?jql=project+%3D+p1')).allowed).toBe(false);
    expect(decide('/x[QueryParam::jql==project = P1]', get('/x?jql=project+%3D+P10')).allowed).toBe(false);
  });
});
