// Compiled restriction sets: regexes built once, method bitmasks, and a literal index that picks candidate rules.
import type { AST, RegExpParser } from '@eslint-community/regexpp';
import type { DFA } from 'refa';
import { analysisLibs } from './analysis-libs.js';
import type { LinearRegex, Matcher } from './linear-regex.js';
import { applyEdits, type SourceEdit } from './source-edits.js';
import type { Method, Rule } from './types.js';

/** Bit per method; a request method outside {@link METHOD_BITS} gets {@link OTHER_METHOD}. */
const METHOD_BITS: Readonly<Record<Method, number>> = { GET: 1, HEAD: 2, POST: 4, PUT: 8, PATCH: 16, DELETE: 32, OPTIONS: 64 };
const OTHER_METHOD = 128;
/** The mask of a rule without a method list: every method, known or not. */
const ANY_METHOD = 0xff;

/** Maps a request method (any case) to its bit. */
export function methodBit(method: unknown): number {
  if (typeof method !== 'string') return OTHER_METHOD;
  return METHOD_BITS[method.toUpperCase() as Method] ?? OTHER_METHOD;
}

/** The method mask of a rule: `GET` also admits `HEAD` (SPEC §3.4). */
function methodMask(methods: readonly Method[] | null): number {
  if (methods === null) return ANY_METHOD;
  let mask = 0;
  for (const m of methods) mask |= METHOD_BITS[m] | (m === 'GET' ? METHOD_BITS.HEAD : 0);
  return mask;
}

/** Wraps a regex for full matching; it was compiled on its own first, so it cannot escape the group. */
export const fullMatch = (source: string, flags: string): RegExp => new RegExp(`^(?:${source})$`, flags);

/**
 * Runs a new regex twice on the empty string. V8 compiles a regex on its first run (to bytecode) and
 * again on the next (to machine code); doing it here moves that work to parse time, so that the first
 * request a set of a thousand rules sees does not pay for a thousand compilations.
 */
function warm(re: RegExp): RegExp {
  re.test('');
  re.test('');
  return re;
}

/**
 * A value regex, compiled once per set: every constraint with the same pattern shares it. `literal` is set
 * when the regex can only match that exact text (then no regex runs).
 */
export interface CompiledValue {
  /** V8's RegExp, or the DFA of a regex the analysis could not prove cheap. */
  readonly re: Matcher;
  readonly literal: string | null;
  readonly pattern: string;
  /**
   * True when a JSON **string** `"true"`, `"false"` or `"null"` must not satisfy the regex (SPEC §3.6): the
   * regex can only match those JSON literals, or it could not be analysed (then only those three strings
   * are refused, which fails closed).
   */
  readonly literalWords: boolean;
}

/** A QueryParam constraint, ready to evaluate. `slot` indexes the per-request memo of (regex, name) results. */
export interface CompiledQueryParam {
  readonly name: string;
  readonly value: CompiledValue;
  readonly slot: number;
}

/** A JsonData constraint, ready to evaluate. `slot` indexes the per-request memo of (regex, path) results. */
export interface CompiledJsonData {
  readonly path: readonly string[];
  /** True at each `*` segment (every element of a non-empty array). */
  readonly everyElement: readonly boolean[];
  /** Whether any segment is `*`. */
  readonly many: boolean;
  readonly value: CompiledValue;
  readonly slot: number;
}

/** Whether a value full-matches a constraint's regex. */
export const valueMatches = (c: CompiledValue, value: string): boolean => (c.literal !== null ? value === c.literal : c.re.test(value));

/**
 * Where a URL regex begins with a leading `.*` (`.*?`, `.+`, `.+?`) before the literal start of a path:
 * the source ranges to replace with the context path (SPEC §3.3). `slash` is true when the range must
 * also supply the `/` (the seeds' form `.*rest/…`).
 */
export interface ContextRange {
  readonly start: number;
  readonly end: number;
  readonly slash: boolean;
}

/** The URL regex of one or more rules with the same source: compiled per case mode and context path on first use. */
export interface UrlGroup {
  readonly id: number;
  readonly source: string;
  /** The leading wildcards that stand for the context path; empty when there are none. */
  readonly context: readonly ContextRange[];
  /**
   * True when the one leading wildcard opens the whole regex (a single top-level alternative, after any
   * `^`): then a path matches for a context path exactly when it starts with it and the rest matches the
   * regex compiled for none, so a case-sensitive evaluation with a `basePath` needs no regex of its own.
   */
  readonly contextPrefix: boolean;
  /** The vetted worst-case cost of the regex (steps), for bounding work done only for explanations. */
  readonly cost: number;
  /** The last regex asked for, and the mode it was compiled for (sets are used in one mode by one guard). */
  lastCaseInsensitive: boolean;
  lastBasePath: string;
  last: RegExp | undefined;
  readonly regexes: Map<string, RegExp>;
}

/** A rule, ready to evaluate. */
export interface CompiledRule {
  readonly rule: Rule;
  readonly line: number;
  readonly mask: number;
  /** Rules with the same URL regex share a group (and its compiled regexes), so one evaluation tests it once. */
  readonly url: UrlGroup;
  /** A literal every matching path contains (ASCII, as written), or '' when none is known. */
  readonly literal: string;
  readonly literalLower: string;
  /** True when the URL regex matches exactly `literal` (case-folded when case-insensitive) and nothing else. */
  readonly literalOnly: boolean;
  readonly query: readonly CompiledQueryParam[];
  readonly json: readonly CompiledJsonData[];
}

const SPECIAL = /[\\^$.*+?()[\]{}|/]/g;
/** `text` as a regex that matches exactly it. */
export const escapeRegex = (text: string): string => text.replace(SPECIAL, '\\$&');

/** The source a URL group runs for a context path: each leading wildcard replaced by the (escaped) path. */
export function contextSource(group: Pick<UrlGroup, 'source' | 'context'>, basePath: string): string {
  if (group.context.length === 0) return group.source;
  let out = '';
  let at = 0;
  for (const range of group.context) {
    out += group.source.slice(at, range.start) + escapeRegex(basePath) + (range.slash ? '/' : '');
    at = range.end;
  }
  return out + group.source.slice(at);
}

/**
 * `source` with every atom that matches any character (`.` under dotAll, `[^]`, `[\s\S]`, …) written as
 * `[^\uFFFF]`. V8 compiles an any-character class with the `i` flag some 20–100 times slower than any
 * other (about 0.1 ms for each `.`; a thousand ordinary rules with `.*` took 0.27 s on first use), and
 * canonical paths never hold U+FFFF (SPEC §3.1 as tokenfence applies it: a noncharacter), so the two match
 * the same paths.
 */
export function anyCharFree(source: string): string {
  const pattern = parsed(source);
  if (pattern === null) return source;
  const { toCharSet } = analysisLibs().rea;
  const ranges: [number, number][] = [];
  const visit = (node: AST.Node): void => {
    switch (node.type) {
      case 'CharacterSet':
        if (node.kind === 'any') ranges.push([node.start, node.end]);
        return;
      case 'CharacterClass':
        try {
          if (toCharSet(node as Parameters<typeof toCharSet>[0], { dotAll: true, ignoreCase: false }).isAll) ranges.push([node.start, node.end]);
        } catch {
          // Not analysable: left as written.
        }
        return;
      case 'Quantifier':
        visit(node.element);
        return;
      case 'Alternative':
        node.elements.forEach(visit);
        return;
      case 'Group':
      case 'CapturingGroup':
      case 'Pattern':
        node.alternatives.forEach(visit);
        return;
      case 'Assertion':
        if (node.kind === 'lookahead' || node.kind === 'lookbehind') node.alternatives.forEach(visit);
        return;
      default:
        return;
    }
  };
  visit(pattern);
  return applyEdits(
    source,
    ranges.map(([start, end]) => ({ start, end, text: '[^\\uFFFF]' })),
  );
}

/**
 * `source` with every capturing group written as a non-capturing one, when it has no back-reference (then
 * no capture is ever read: evaluation only asks whether the whole text matches). V8 compiles a capturing
 * group some ten times slower: 1,300 `(.)` groups took 10 ms, `(?:.)` 1.1 ms.
 */
export function captureFree(source: string): string {
  const pattern = parsed(source);
  if (pattern === null) return source;
  const edits: SourceEdit[] = [];
  let backreference = false;
  analysisLibs().regexpp.visitRegExpAST(pattern, {
    onBackreferenceEnter: () => void (backreference = true),
    onCapturingGroupEnter: (group) => void edits.push({ start: group.start, end: group.alternatives[0]!.start, text: '(?:' }),
  });
  return backreference ? source : applyEdits(source, edits);
}

/** Whether the group's regex for a mode is compiled already. */
export function isCompiled(group: UrlGroup, caseInsensitive: boolean, basePath: string): boolean {
  return group.regexes.has(`${caseInsensitive ? 'i' : 's'}${group.context.length === 0 ? '' : basePath}`);
}

/** The full-match regex of a group for a case mode and context path. */
export function urlRegex(group: UrlGroup, caseInsensitive: boolean, basePath: string): RegExp {
  // Only a leading wildcard reads the context path: every other group has one regex for all of them.
  if (group.context.length === 0) basePath = '';
  if (group.last !== undefined && group.lastCaseInsensitive === caseInsensitive && group.lastBasePath === basePath) return group.last;
  const key = `${caseInsensitive ? 'i' : 's'}${basePath}`;
  let re = group.regexes.get(key);
  if (re === undefined) {
    const source = contextSource(group, basePath);
    re = warm(caseInsensitive ? fullMatch(captureFree(anyCharFree(source)), 'si') : fullMatch(captureFree(source), 's'));
    if (group.regexes.size >= 16) group.regexes.clear();
    group.regexes.set(key, re);
  }
  group.lastCaseInsensitive = caseInsensitive;
  group.lastBasePath = basePath;
  group.last = re;
  return re;
}

/** Characters of a path segment that may follow a leading `.*` in the seeds' form `.*rest/…`. */
const SEGMENT_CHAR = /^[A-Za-z0-9_~-]$/;

/**
 * The leading wildcards of a URL regex that stand for the context path (SPEC §3.3): in each top-level
 * alternative (after any `^`, and inside a leading group of alternatives, each read the same way), a `.*`,
 * `.*?`, `.+` or `.+?` directly followed by a literal `/` (also `\/`, `[/]`, or a group whose every
 * alternative starts with one), or by a literal run of segment characters and then a literal `/` (the
 * seeds' `.*rest/extender/…`). Anything else is left as written: a group that holds nothing but the
 * wildcard, `(?:.*)/x` or `(.*)/x`, is the explicit way to match any prefix.
 */
export function contextRanges(source: string): ContextRange[] {
  const pattern = parsed(source);
  if (pattern === null) return [];
  const ranges: ContextRange[] = [];
  collectContext(pattern.alternatives, ranges);
  return ranges.sort((x, y) => x.start - y.start);
}

const isWildcard = (el: AST.Element | undefined): el is AST.Quantifier =>
  el?.type === 'Quantifier' && el.max === Infinity && el.min <= 1 && el.element.type === 'CharacterSet' && el.element.kind === 'any';

function collectContext(alternatives: readonly AST.Alternative[], ranges: ContextRange[]): void {
  for (const alt of alternatives) {
    let k = 0;
    while (alt.elements[k]?.type === 'Assertion' && (alt.elements[k] as AST.Assertion).kind === 'start') k++;
    const first = alt.elements[k];
    const rest = alt.elements.slice(k + 1);
    if ((first?.type === 'Group' || first?.type === 'CapturingGroup') && !(first.alternatives.length === 1 && first.alternatives[0]!.elements.length === 1 && isWildcard(first.alternatives[0]!.elements[0]))) {
      collectContext(first.alternatives, ranges);
      continue;
    }
    if (!isWildcard(first)) continue;
    if (startsWithSlash(rest)) ranges.push({ start: first.start, end: first.end, slash: false });
    else if (endsRunWithSlash(rest)) ranges.push({ start: first.start, end: first.end, slash: true });
  }
}

/** Whether `elements` begin with a literal `/`: `/`, `\/`, `[/]`, or a group whose every alternative does. */
function startsWithSlash(elements: readonly AST.Element[]): boolean {
  const el = elements[0];
  if (el === undefined) return false;
  if (el.type === 'Character') return el.value === 0x2f;
  if (el.type === 'CharacterClass') {
    return !el.negate && el.elements.length > 0 && el.elements.every((c) => c.type === 'Character' && c.value === 0x2f);
  }
  if (el.type === 'Group' || el.type === 'CapturingGroup') return el.alternatives.every((a) => startsWithSlash(a.elements));
  return false;
}

/** Whether the only context range opens the only top-level alternative (see UrlGroup.contextPrefix). */
function isContextPrefix(source: string, ranges: readonly ContextRange[]): boolean {
  if (ranges.length !== 1 || !/^\^*$/.test(source.slice(0, ranges[0]!.start))) return false;
  return parsed(source)?.alternatives.length === 1;
}

/** Whether a run of segment characters at the start of `elements` is ended by a literal `/`. */
function endsRunWithSlash(elements: readonly AST.Element[]): boolean {
  for (const el of elements) {
    if (el.type !== 'Character') return false;
    if (el.value === 0x2f) return true;
    if (!SEGMENT_CHAR.test(String.fromCharCode(el.value))) return false;
  }
  return false;
}

let literalParser: RegExpParser | undefined;

/** The regexpp tree of a rule regex (read without the `u` flag, as it runs), or null when it does not parse. */
function parsed(source: string): AST.Pattern | null {
  literalParser ??= new (analysisLibs().regexpp.RegExpParser)({ ecmaVersion: 2025 });
  try {
    return literalParser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return null;
  }
}

/** The text a regex matches when it is nothing but plain characters (`project = P1`, `true`); else null. */
export function literalPattern(source: string): string | null {
  const pattern = parsed(source);
  if (pattern === null) return null;
  if (pattern.alternatives.length !== 1) return null;
  let text = '';
  for (const el of pattern.alternatives[0]!.elements) {
    if (el.type !== 'Character') return null;
    text += String.fromCharCode(el.value);
  }
  return text;
}

/**
 * The longest run of plain ASCII characters that every match of `source` must contain, or ''. Only
 * top-level characters of a single-alternative regex count, so the result is always truly required.
 */
export function requiredLiteral(source: string): string {
  const pattern = parsed(source);
  if (pattern === null) return '';
  if (pattern.alternatives.length !== 1) return '';
  let best = '';
  let run = '';
  for (const el of pattern.alternatives[0]!.elements) {
    if (el.type === 'Character' && el.value < 0x80) {
      run += String.fromCharCode(el.value);
      if (run.length > best.length) best = run;
    } else if (!(el.type === 'Assertion' && (el.kind === 'start' || el.kind === 'end'))) {
      run = '';
    }
  }
  return best;
}

/** Rule sets at least this large get a trigram index; smaller ones are scanned in order. */
export const INDEX_THRESHOLD = 24;

/**
 * Picks candidate rules by literal: each rule with a literal of three or more characters is filed
 * under its rarest trigram, so a path only visits the rules whose trigram it contains. Rules without
 * such a literal are always candidates. Candidates come back in rule order.
 */
export class TrigramIndex {
  private readonly postings = new Map<number, number[]>();
  private readonly always: number[] = [];
  private readonly seen: Uint32Array;
  private stamp = 0;
  private readonly scratch: number[] = [];

  constructor(literals: readonly string[]) {
    const frequency = new Map<number, number>();
    const grams = literals.map((lit) => {
      const set = new Set<number>();
      for (let i = 0; i + 3 <= lit.length; i++) set.add(trigram(lit, i)); // literals are ASCII: never -1
      for (const g of set) frequency.set(g, (frequency.get(g) ?? 0) + 1);
      return set;
    });
    grams.forEach((set, rule) => {
      let best = -1;
      let bestCount = Infinity;
      for (const g of set) {
        const count = frequency.get(g)!;
        if (count < bestCount) [best, bestCount] = [g, count];
      }
      if (best < 0) this.always.push(rule);
      else {
        const list = this.postings.get(best);
        if (list) list.push(rule);
        else this.postings.set(best, [rule]);
      }
    });
    this.seen = new Uint32Array(literals.length);
  }

  /** Candidate rule indexes for `haystack` (already case-folded like the literals), in rule order. */
  candidates(haystack: string): readonly number[] {
    const out = this.scratch;
    out.length = 0;
    if (++this.stamp === 0xffffffff) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    const stamp = this.stamp;
    for (let i = 0; i + 3 <= haystack.length; i++) {
      const list = this.postings.get(trigram(haystack, i));
      if (list === undefined) continue;
      for (const rule of list) {
        if (this.seen[rule] !== stamp) {
          this.seen[rule] = stamp;
          out.push(rule);
        }
      }
    }
    if (out.length > 1) out.sort((a, b) => a - b);
    return mergeSorted(out, this.always);
  }
}

/** Packs three ASCII characters into a small integer key; -1 when one is not ASCII (literals never are). */
function trigram(s: string, i: number): number {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  const c = s.charCodeAt(i + 2);
  return (a | b | c) < 0x80 ? (a << 14) | (b << 7) | c : -1;
}

function mergeSorted(a: readonly number[], b: readonly number[]): readonly number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]! < b[j]! ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** The JSON literals a value regex may stand for (SPEC §3.6). */
const JSON_WORDS = ['true', 'false', 'null'] as const;
const MAX_LITERAL_NODES = 500;
let jsonWordsComplement: DFA | undefined;

/**
 * Whether the strings `"true"`, `"false"` and `"null"` must not satisfy `pattern`: true when the regex
 * can only match (some of) those words, so it means the JSON literals, and also when its language cannot
 * be worked out (lookarounds, too many states) while it does match one of them — then only those three
 * strings are refused, which fails closed.
 */
export function literalWordsOnly(pattern: string, re: Matcher): boolean {
  if (!JSON_WORDS.some((w) => re.test(w))) return false;
  const { DFA, JS, NFA, isDisjointWith } = analysisLibs().refa;
  try {
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source: pattern, flags: 's' }, { ecmaVersion: 2025 }).parse({ maxNodes: MAX_LITERAL_NODES });
    const language = NFA.fromRegex(expression, { maxCharacter }, {}, new NFA.LimitedNodeFactory(MAX_LITERAL_NODES));
    jsonWordsComplement ??= (() => {
      const words = JS.Parser.fromLiteral({ source: JSON_WORDS.join('|'), flags: 's' }, { ecmaVersion: 2025 }).parse();
      const dfa = DFA.fromFA(NFA.fromRegex(words.expression, { maxCharacter: words.maxCharacter }));
      dfa.complement();
      return dfa;
    })();
    return isDisjointWith(language, jsonWordsComplement, MAX_LITERAL_NODES);
  } catch {
    return true;
  }
}

/** Shares compiled value regexes and hands out memo slots while a set is compiled. */
class ValueTable {
  private readonly values = new Map<string, CompiledValue>();
  private readonly slots = new Map<string, number>();

  constructor(private readonly linear: ReadonlyMap<string, LinearRegex>) {}

  value(pattern: string, json: boolean): CompiledValue {
    const key = `${json ? 'j' : 'q'}${pattern}`;
    let value = this.values.get(key);
    if (value === undefined) {
      const re = this.linear.get(pattern) ?? warm(fullMatch(captureFree(pattern), 's'));
      value = { re, literal: literalPattern(pattern), pattern, literalWords: json && literalWordsOnly(pattern, re) };
      this.values.set(key, value);
    }
    return value;
  }

  /** One slot per distinct (kind, pattern, target): constraints that ask the same question share an answer. */
  slot(key: string): number {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(key, slot);
    }
    return slot;
  }

  get size(): number {
    return this.slots.size;
  }
}

function compileRule(rule: Rule, url: UrlGroup, shared: CompiledRule | undefined, table: ValueTable): CompiledRule {
  const literal = shared ? shared.literal : requiredLiteral(rule.url);
  const query: CompiledQueryParam[] = [];
  const json: CompiledJsonData[] = [];
  for (const c of rule.constraints) {
    if (c.kind === 'QueryParam') {
      query.push({ name: c.name, value: table.value(c.pattern, false), slot: table.slot(`q\0${c.pattern}\0${c.name}`) });
    } else {
      const pathKey = c.path.map((segment, i) => (c.everyElement[i] ? '\0*' : `.${segment}`)).join('');
      json.push({
        path: c.path,
        everyElement: c.everyElement,
        many: c.everyElement.includes(true),
        value: table.value(c.pattern, true),
        slot: table.slot(`j\0${c.pattern}\0${pathKey}`),
      });
    }
  }
  return {
    rule,
    line: rule.line,
    mask: methodMask(rule.methods),
    url,
    literal,
    literalLower: literal.toLowerCase(),
    literalOnly: shared ? shared.literalOnly : literal !== '' && url.context.length === 0 && literalPattern(rule.url) === literal,
    query,
    json,
  };
}

/**
 * The compiled side of a {@link RestrictionSet}: rules, an index per case mode for large sets, and the
 * memos of one evaluation.
 *
 * What one request costs is what the set budget of `parseRestrictions` charges (SPEC §3.3): each distinct
 * URL regex runs at most once per request target, each distinct (value regex, query name) and (value
 * regex, JSON path) pair at most once per request, however many rules repeat them.
 */
export class CompiledSet {
  readonly rules: readonly CompiledRule[];
  readonly hasQuery: boolean;
  readonly hasJson: boolean;
  /** Whether any rule has a method list (without one, a change of method cannot change a decision). */
  readonly hasMethods: boolean;
  /**
   * The last decision that depended on method, path and matching mode only (no rule with a QueryParam or
   * JsonData constraint got as far as its constraints): the rule's index, or -1 for none. `memoPath` is a
   * canonical path; undefined until the first such decision.
   */
  memoPath: string | undefined = undefined;
  memoBit = 0;
  memoCaseInsensitive = false;
  memoBasePath = '';
  memoIndex = -1;
  private indexSensitive: TrigramIndex | undefined;
  private indexInsensitive: TrigramIndex | undefined;
  /** Per-target memo of URL-group results: valid where `urlStamp[g] === stamp`. */
  private readonly urlStamp: Uint32Array;
  private readonly urlResult: Uint8Array;
  private stamp = 0;
  /** Per-request memo of constraint results (a miss code, 0 when the constraint holds), by slot. */
  readonly slotStamp: Uint32Array;
  readonly slotResult: Uint8Array;
  /** The stamp of the current query (query slots) and of the current request (JSON slots). */
  queryStamp = 0;
  jsonStamp = 0;
  private slotClock = 0;

  constructor(rules: readonly Rule[], urlCosts: readonly number[] = [], linear: ReadonlyMap<string, LinearRegex> = new Map()) {
    const groups = new Map<string, CompiledRule>();
    const table = new ValueTable(linear);
    this.rules = rules.map((rule, k) => {
      const shared = groups.get(rule.url);
      const context = shared ? shared.url.context : contextRanges(rule.url);
      const url: UrlGroup = shared
        ? shared.url
        : {
            id: groups.size,
            source: rule.url,
            context,
            contextPrefix: isContextPrefix(rule.url, context),
            cost: urlCosts[k] ?? Infinity,
            lastCaseInsensitive: false,
            lastBasePath: '',
            last: undefined,
            regexes: new Map(),
          };
      const compiled = compileRule(rule, url, shared, table);
      if (!shared) {
        groups.set(rule.url, compiled);
        // Both case modes' regexes now, so that their compilation is part of parsing (see warm()): the i
        // flag compiles slowly (0.6 µs a character of source), and the first case-insensitive request paid
        // for every rule (1,000 lines of 4,000 dots: 2.4 s).
        urlRegex(url, true, '');
        urlRegex(url, false, '');
      }
      return compiled;
    });
    this.urlStamp = new Uint32Array(groups.size);
    this.urlResult = new Uint8Array(groups.size);
    this.slotStamp = new Uint32Array(table.size);
    this.slotResult = new Uint8Array(table.size);
    this.hasQuery = this.rules.some((r) => r.query.length > 0);
    this.hasJson = this.rules.some((r) => r.json.length > 0);
    this.hasMethods = this.rules.some((r) => r.rule.methods !== null);
    if (rules.length >= INDEX_THRESHOLD) {
      // Both case modes at parse time: built on first use, the index of a thousand long literals cost that request 36 ms.
      this.indexSensitive = new TrigramIndex(this.rules.map((r) => r.literal));
      this.indexInsensitive = new TrigramIndex(this.rules.map((r) => r.literalLower));
    }
  }

  /** The index for a case mode, or undefined when the set is small enough to scan. */
  index(caseInsensitive: boolean): TrigramIndex | undefined {
    if (this.rules.length < INDEX_THRESHOLD) return undefined;
    return caseInsensitive ? this.indexInsensitive : this.indexSensitive;
  }

  /** Starts a request target: forgets the URL results of the previous one. Evaluations never interleave. */
  begin(): void {
    if (++this.stamp === 0xffffffff) {
      this.urlStamp.fill(0);
      this.stamp = 1;
    }
  }

  /** Starts a request: forgets every constraint result. */
  beginRequest(): void {
    this.jsonStamp = this.nextSlotStamp();
    this.queryStamp = this.nextSlotStamp();
  }

  /** Starts another query string within the request: forgets the QueryParam results. */
  beginQuery(): void {
    this.queryStamp = this.nextSlotStamp();
  }

  private nextSlotStamp(): number {
    if (++this.slotClock === 0xffffffff) {
      this.slotStamp.fill(0);
      this.slotClock = 1;
      this.jsonStamp = 0;
      this.queryStamp = 0;
    }
    return this.slotClock;
  }

  /**
   * Whether the rule's URL regex matches the path; `haystack` is the path, ASCII-lower-cased when
   * matching ignores case. Memoized per group for the current target.
   */
  urlMatches(rule: CompiledRule, path: string, haystack: string, caseInsensitive: boolean, basePath: string): boolean {
    const g = rule.url.id;
    if (this.urlStamp[g] === this.stamp) return this.urlResult[g] === 1;
    const literal = caseInsensitive ? rule.literalLower : rule.literal;
    let matches: boolean;
    if (rule.literalOnly) matches = haystack === literal;
    else if (literal !== '' && !haystack.includes(literal)) matches = false;
    else if (basePath !== '' && !caseInsensitive && rule.url.contextPrefix) {
      // No compilation per context path (a new basePath would otherwise compile every such regex again).
      matches = path.startsWith(basePath) && urlRegex(rule.url, false, '').test(path.slice(basePath.length));
    } else matches = urlRegex(rule.url, caseInsensitive, basePath).test(path);
    this.urlStamp[g] = this.stamp;
    this.urlResult[g] = matches ? 1 : 0;
    return matches;
  }

  /** Whether the rule's required literal occurs in the haystack: a necessary condition of its URL matching, with no regex run. */
  mayMatchUrl(rule: CompiledRule, haystack: string, caseInsensitive: boolean): boolean {
    const literal = caseInsensitive ? rule.literalLower : rule.literal;
    return literal === '' || haystack.includes(literal);
  }
}
