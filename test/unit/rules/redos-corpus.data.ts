// Data for redos-corpus.test.ts: regexes that must never cost more than 50 ms per evaluation (SPEC §2
// "Every regex is vetted", §3.8 caps), split into known-bad shapes and ordinary rules.
//
// A regex is tried in up to three positions: as the URL regex of a rule, as a QueryParam value regex
// (`.*[QueryParam::v==<re>]`) and as a JsonData value regex (`.*[JsonData::v==<re>]`). `positions` holds
// the regex text used in each position it is tried in.

export type Position = 'url' | 'query' | 'json';

/** A hand-picked adversarial shape: `prefix` + `unit` repeated to the cap + `suffix`. */
export interface Pump {
  readonly prefix?: string;
  readonly unit: string;
  readonly suffix?: string;
}

export interface CorpusEntry {
  /** The regex as it is usually quoted (the test names use it). */
  readonly source: string;
  readonly kind: string;
  /** The regex text per position it is tried in. */
  readonly positions: Partial<Record<Position, string>>;
  /** Extra adversarial shapes on top of the ones generated from the regex itself. */
  readonly pumps?: readonly Pump[];
}

/**
 * A known-bad regex in all three positions. A URL always starts with `/`, so the URL variant is the
 * regex behind a `/` (a leading `^` dropped): `/(a|a)*` is as exponential on `/aaaa…!` as `(a|a)*` on `aaaa…!`.
 */
function bad(source: string, kind: string, pumps?: Pump[], url?: string): CorpusEntry {
  return {
    source,
    kind,
    positions: { url: url ?? `/${source.replace(/^\^/, '')}`, query: source, json: source },
    ...(pumps && { pumps }),
  };
}

/** An ordinary URL regex. */
const url = (source: string, pumps?: Pump[]): CorpusEntry => ({ source, kind: 'url', positions: { url: source }, ...(pumps && { pumps }) });
/** An ordinary value regex, tried as QueryParam and JsonData value. */
const value = (source: string, pumps?: Pump[]): CorpusEntry => ({
  source,
  kind: 'value',
  positions: { query: source, json: source },
  ...(pumps && { pumps }),
});

/**
 * Known-bad regexes. Each must be rejected with `unsafe_regex`, or — if accepted — stay under 50 ms on
 * the best adversarial input the test can build at the caps.
 */
export const BAD: readonly CorpusEntry[] = [
  // ---- exponential: ambiguous or nested repetition ----
  bad('(a|a)*', 'exponential: overlapping alternation', [{ unit: 'a', suffix: '!' }]),
  bad('(a|aa)+', 'exponential: overlapping alternation', [{ unit: 'a', suffix: '!' }]),
  bad('(a|a?)+', 'exponential: overlapping alternation', [{ unit: 'a', suffix: '!' }]),
  bad('(a|b|ab)*c', 'exponential: overlapping alternation', [{ unit: 'ab', suffix: '!' }]),
  bad('(\\d|\\d\\d)+x', 'exponential: overlapping alternation', [{ unit: '1', suffix: '!' }]),
  bad('(\\w|\\d)+$', 'exponential: overlapping alternation', [{ unit: '1', suffix: '!' }]),
  bad('(.|\\s)*x', 'exponential: overlapping alternation (dotAll)', [{ unit: ' ', suffix: '' }]),
  bad('(?:[a-z]|[a-c])*!', 'exponential: overlapping alternation of classes', [{ unit: 'a', suffix: '' }]),
  bad('(a+)+', 'exponential: nested quantifier', [{ unit: 'a', suffix: '!' }]),
  bad('(a*)*', 'exponential: nested quantifier', [{ unit: 'a', suffix: '!' }]),
  bad('(a+)*', 'exponential: nested quantifier', [{ unit: 'a', suffix: '!' }]),
  bad('(x+x+)+y', 'exponential: nested quantifier', [{ unit: 'x', suffix: '' }]),
  bad('(?:\\d+)+z', 'exponential: nested quantifier', [{ unit: '1', suffix: '' }]),
  bad('([a-zA-Z]+)*', 'exponential: nested quantifier (OWASP)', [{ unit: 'a', suffix: '1' }]),
  bad('(\\w+\\s?)+$', 'exponential: nested quantifier (OWASP)', [{ unit: 'a', suffix: '!' }]),
  bad('(\\s*\\w*)*z', 'exponential: nested quantifier', [{ unit: 'a ', suffix: '' }]),
  bad('(.*a){12}', 'exponential: bounded repetition of an unbounded body', [{ unit: 'a', suffix: '!' }]),
  bad('(?:a?){25}a{25}', 'exponential: Russ Cox a?^n a^n', [{ unit: 'a', suffix: '' }]),
  bad('^(([a-z])+.)+[A-Z]([a-z])+$', 'exponential: OWASP Java class name', [{ unit: 'a', suffix: '!' }]),
  bad(
    '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
    'exponential: OWASP e-mail validation',
    [{ unit: 'a', suffix: '!' }],
  ),
  bad('^(\\s*[a-z]+\\s*)+$', 'exponential: nested quantifier around white space', [{ unit: 'a ', suffix: '!' }]),

  // ---- polynomial: chains of overlapping unbounded quantifiers ----
  bad('.*a.*a.*a.*b', 'polynomial: n^4 chain', [{ unit: 'a', suffix: '' }]),
  bad('\\d*\\d*\\d*\\d*z', 'polynomial: n^4 adjacent', [{ unit: '1', suffix: '' }]),
  bad('.*/.*/.*/.*/z', 'polynomial: n^4 chain on /', [{ unit: '/', suffix: '' }, { unit: 'a/', suffix: '' }]),
  bad('.*.*x', 'polynomial: adjacent .*', [{ unit: 'a', suffix: '' }]),
  bad('.*.*=.*', 'polynomial: adjacent .* (Snyk)', [{ unit: 'a', suffix: '' }]),
  bad('.*\\s+', 'polynomial: adjacent overlapping quantifiers', [{ unit: ' ', suffix: 'a' }]),
  bad('\\s*\\s*$', 'polynomial: adjacent \\s*', [{ unit: ' ', suffix: 'a' }]),
  bad('\\s*#?\\s*$', 'polynomial: \\s* around an optional', [{ unit: ' ', suffix: 'a' }]),
  bad('\\s+$', 'polynomial when unanchored (linear under the full-match anchors)', [{ unit: ' ', suffix: 'a' }]),
  bad('^\\s+|\\s+$', 'polynomial trim (linear under the full-match anchors)', [{ unit: ' ', suffix: 'a' }]),
  bad('[a-z]*[a-z]*[a-z]*!', 'polynomial: n^3 adjacent', [{ unit: 'a', suffix: '' }]),
  bad('a*a*a*a*a*a*b', 'polynomial: n^6 adjacent', [{ unit: 'a', suffix: '' }]),
  bad('\\d+\\d+\\d+\\d+\\d+x', 'polynomial: n^5 adjacent', [{ unit: '1', suffix: '' }]),
  bad('(?:a|b)*(?:a|b)*(?:a|b)*c', 'polynomial: n^3 adjacent groups', [{ unit: 'ab', suffix: '' }]),
  bad('[\\s\\S]*[\\s\\S]*[\\s\\S]*x', 'polynomial: n^3 adjacent', [{ unit: 'a', suffix: '' }]),
  bad('.*-.*-.*-!', 'polynomial: n^4 chain on -', [{ unit: '-', suffix: '' }]),
  bad('.*/rest/.*/issue/.*/comment.*', 'polynomial: n^3 chain of path literals', [
    { unit: '/rest/issue', suffix: '' },
    { unit: '/rest', suffix: '/issue' },
  ]),

  // ---- found in review: shapes the cost model used to undercount ----
  bad(".*!-=~.*@:,'.*\\b", 'polynomial: a trailing .* before \\b backtracks through its run', [{ unit: "!-=~@:,'", suffix: '' }]),
  bad('a{0,16}a{0,16}a{0,16}a{0,16}.{3000}!', 'bounded: a long bounded run read at every split of the runs before it', [{ prefix: 'a'.repeat(64), unit: 'b', suffix: '' }]),
  bad('.*x.{4000}!', 'bounded: a long bounded run read from every start', [{ unit: 'x', suffix: '' }]),

  // ---- found while refining the analysis (issue 12) ----
  bad(`${'(?:a|a)'.repeat(28)}b`, 'exponential without a repetition: a sequence of ambiguous alternations (accepted before issue 12)', [{ unit: 'a', suffix: '!' }]),
  bad('(\\d?,?)+x', 'exponential: an iteration of optional parts, one or two iterations per "1,"', [{ unit: '1,', suffix: '!' }]),
  bad('(a?a?)*b', 'exponential: two optional copies per iteration', [{ unit: 'a', suffix: '!' }]),
  bad('a+b*a+x', 'polynomial: two overlapping runs with an optional run between them', [{ unit: 'a', suffix: '' }]),
  bad('.{0,16}.{0,16}.{0,4}[^b]+.+^', 'polynomial: a ^ after a character always fails, so everything before it backtracks (bench/worst-set.mjs F1)', [{ unit: 'a', suffix: 'b' }]),
  bad('[a-z]*(?<=xa+a+a+)', 'polynomial: a lookbehind is matched backwards (x first, then three runs)', [{ unit: 'a', suffix: '!' }]),
  bad('(?=a+a+a+$).*', 'polynomial: a lookahead anchored by $ (accepted before issue 12: its $ was ignored)', [{ unit: 'a', suffix: '!' }]),
  bad('(.*a){2,3}x', 'polynomial: a bounded repetition of an unbounded body is its copies in a row', [{ unit: 'a', suffix: '' }]),
  bad('(?:[a-z]+\\.?)+!', 'exponential: a separator that is optional does not separate', [{ unit: 'a', suffix: '' }]),

  // ---- back-references ----
  bad('(a)\\1', 'back-reference', [{ unit: 'a', suffix: '' }]),
  bad('(?<x>a)\\k<x>', 'named back-reference', [{ unit: 'a', suffix: '' }]),
  bad('(\\w+)\\s\\1', 'back-reference over a run', [{ unit: 'a', suffix: '!' }]),
  bad('^(a+)\\1*$', 'back-reference repeated', [{ unit: 'a', suffix: '!' }]),

  // ---- lookaround-driven ----
  bad('(?=.*a)*', 'quantified lookahead', [{ unit: 'a', suffix: '' }]),
  bad('(?:x(?=.*y))*z', 'lookahead inside a repetition', [{ unit: 'x', suffix: '' }]),
  bad('.*(?=.*x).*y', 'lookahead between overlapping quantifiers', [{ unit: 'x', suffix: '' }]),
  bad('(?=(a|a)*$).*', 'exponential group inside a lookahead', [{ unit: 'a', suffix: '!' }]),
  bad('(?!(a+)+b).*', 'nested quantifier inside a negative lookahead', [{ unit: 'a', suffix: '' }]),
  bad('(?=(\\w+\\s?)+$).*', 'OWASP shape inside a lookahead', [{ unit: 'a', suffix: '!' }]),
  bad('.*(?<=.*a.*a.*a)b', 'polynomial lookbehind', [{ unit: 'a', suffix: '' }]),
];

/** Ordinary rules: each must be accepted, and stay under 50 ms on adversarial input at the caps. */
export const GOOD: readonly CorpusEntry[] = [
  // The URL regexes of the SPEC §2 examples.
  url('.*/rest/api/2/issue/JRA.*'),
  url('.*/rest/api/2/issue/KANBAN-100/comment.*'),
  url('.*/rest/extender/1.0/filter/user/.*'),
  url('.*rest/extender/1.0/worklog/user/.*'),
  url('.*/rest/api/2/filter'),
  url('/rest/api/2/issue/[A-Z]+-\\d+', [{ prefix: '/rest/api/2/issue/', unit: 'A', suffix: '-' }]),
  // Jira / Confluence-style paths.
  url('.*/rest/.*/issue/.*', [{ unit: '/rest', suffix: '' }, { unit: '/rest/issue', suffix: '' }]),
  url('.*/rest/api/2/issue/.*/comment', [{ unit: '/rest/api/2/issue', suffix: '' }, { unit: '/rest/api/2/issue/comment', suffix: '!' }]),
  url('.*/comment'),
  url('.*/rest/api/2/project/[A-Z]+'),
  url('/rest/api/2/issue/[^/]+'),
  url('/rest/api/2/issue/[^/]+/comment/\\d+'),
  url('/rest/api/(2|latest)/issue/[A-Z][A-Z0-9_]*-\\d+'),
  url('/rest/api/2/(issue|project|filter)/.*'),
  url('/rest/api/2/issue/(?:[A-Z]+-\\d+|\\d+)'),
  url('/rest/api/2/issue/[A-Z]+-\\d+/(comment|worklog|attachments)(/\\d+)?'),
  url('/rest/api/2/issue/JRA-\\d+/transitions'),
  url('/rest/agile/1\\.0/board/\\d+/sprint'),
  url('/rest/api/2/search'),
  url('/rest/api/2/.*'),
  url('/rest/api/2/user/properties/[a-z0-9._-]+'),
  url('/rest/api/2/attachment/content/\\d{1,10}'),
  url('/wiki/rest/api/content/\\d+(/child/(page|comment|attachment))?'),
  url('/(?:rest|api)/v\\d+/[^/]+/[^/]+'),
  url('/rest/[^/]+/[^/]+/issue/[^/]+/comment/[^/]*'),
  url('/files/[a-f0-9]{32}'),
  url('/reports/\\d{4}-\\d{2}-\\d{2}/summary'),
  url('/static/[\\w-]+\\.(js|css|png)'),
  // Value regexes: the SPEC §2 examples and everyday shapes.
  value('true'),
  value('false'),
  value('2018-01-01'),
  value('(names|schema)'),
  value('\\d{4}-\\d{2}-\\d{2}'),
  value('[A-Z]+-\\d+'),
  value('[^/]+'),
  value('[a-z0-9_]{1,64}'),
  value('(asc|desc)'),
  value('\\d+'),
  value('-?\\d+(\\.\\d+)?'),
  value('.*'),
  value('(role|group)'),
  value('project = [A-Z]+ ORDER BY \\w+'),
  value('[\\w.+-]+@example\\.com'),
  value('https://example\\.com/.*'),
  value('.*\\.pdf'),
  value('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'),
  // Refused before issue 12's refinements (public regexes of the benign corpus, benign-corpus.data.ts).
  // validator@13.15.35 lib/isBase64.js, lib/isLicensePlate.js (cs-CZ), lib/isIP.js (IPv4 part).
  value('^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$', [{ unit: 'QUJD', suffix: '!' }]),
  value('^(([ABCDEFHIJKLMNPRSTUVXYZ]|[0-9])-?){5,8}$', [{ unit: 'A-', suffix: '!' }]),
  value('^\\+(?:[0-9] ?){6,14}[0-9]$', [{ unit: '1 ', suffix: '!' }]),
  value('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', [{ unit: '1.', suffix: '!' }]),
  // Separated lists and e-mail addresses (regexlib shapes).
  value('^[\\w-]+(?:\\.[\\w-]+)*@(?:[\\w-]+\\.)+[a-zA-Z]{2,7}$', [{ unit: 'a.', suffix: '!' }, { prefix: 'a@', unit: 'a.', suffix: '!' }]),
  value('(?:\\.\\d+)*', [{ unit: '.1', suffix: '!' }]),
];

/** The lines of the SPEC §2 example block: all valid. */
export const SPEC_EXAMPLES: readonly string[] = [
  '.*/rest/api/2/issue/JRA.*',
  '[post].*/rest/api/2/issue/KANBAN-100/comment.*',
  '.*/rest/extender/1.0/filter/user/.*[QueryParam::permissions==true]',
  '.*rest/extender/1.0/worklog/user/.*[QueryParam::dateFrom==2018-01-01][QueryParam::dateTo==2018-12-01]',
  '.*/rest/api/2/filter[JsonData::editable==false][JsonData::favourite==false]',
  '[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+[QueryParam::expand==(names|schema)]',
];

/** Patterns safe-regex2 accepts although they take seconds in V8 on a few hundred characters. */
export const SAFE_REGEX2_GAP: readonly { source: string; unit: string; suffix: string; length: number }[] = [
  { source: '(a|a)*', unit: 'a', suffix: '!', length: 40 },
  { source: '(a|aa)+', unit: 'a', suffix: '!', length: 60 },
  { source: '.*a.*a.*a.*b', unit: 'a', suffix: '', length: 600 },
  { source: '\\d*\\d*\\d*\\d*z', unit: '1', suffix: '', length: 600 },
  { source: '.*/.*/.*/.*/z', unit: '/', suffix: '', length: 600 },
];
