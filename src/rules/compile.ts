// Compiled restriction sets: regexes built once, method bitmasks, and a literal index that picks candidate rules.
import { RegExpParser, type AST } from '@eslint-community/regexpp';
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

/** A value regex; `literal` is set when the regex can only match that exact text (then no regex runs). */
export interface CompiledValue {
  readonly re: RegExp;
  readonly literal: string | null;
  readonly pattern: string;
}

/** A QueryParam constraint, ready to evaluate. */
export interface CompiledQueryParam extends CompiledValue {
  readonly name: string;
}

/** A JsonData constraint, ready to evaluate. */
export interface CompiledJsonData extends CompiledValue {
  readonly path: readonly string[];
}

/** Whether a value full-matches a constraint's regex. */
export const valueMatches = (c: CompiledValue, value: string): boolean => (c.literal !== null ? value === c.literal : c.re.test(value));

/** A URL regex compiled case-insensitively (Express's default routing) and, on first use, case-sensitively. */
interface UrlRegexes {
  readonly insensitive: RegExp;
  sensitive: RegExp | undefined;
}

/** A rule, ready to evaluate. */
export interface CompiledRule {
  readonly rule: Rule;
  readonly line: number;
  readonly mask: number;
  /** Rules with the same URL regex share a group (and its compiled regexes), so one evaluation tests it once. */
  readonly urlGroup: number;
  /** The full-match URL regexes, shared by every rule of the group. */
  readonly url: UrlRegexes;
  /** A literal every matching path contains (ASCII, as written), or '' when none is known. */
  readonly literal: string;
  readonly literalLower: string;
  /** True when the URL regex matches exactly `literal` (case-folded unless case-sensitive) and nothing else. */
  readonly literalOnly: boolean;
  readonly query: readonly CompiledQueryParam[];
  readonly json: readonly CompiledJsonData[];
}

function compileRule(rule: Rule, urlGroup: number, shared: CompiledRule | undefined): CompiledRule {
  const literal = shared ? shared.literal : requiredLiteral(rule.url);
  const query: CompiledQueryParam[] = [];
  const json: CompiledJsonData[] = [];
  for (const c of rule.constraints) {
    const value = { re: fullMatch(c.pattern, 's'), literal: literalPattern(c.pattern), pattern: c.pattern };
    if (c.kind === 'QueryParam') query.push({ name: c.name, ...value });
    else json.push({ path: c.path, ...value });
  }
  return {
    rule,
    line: rule.line,
    mask: methodMask(rule.methods),
    urlGroup,
    url: shared ? shared.url : { insensitive: fullMatch(rule.url, 'si'), sensitive: undefined },
    literal,
    literalLower: literal.toLowerCase(),
    literalOnly: shared ? shared.literalOnly : literal !== '' && literalPattern(rule.url) === literal,
    query,
    json,
  };
}

export function urlRegex(rule: CompiledRule, caseSensitive: boolean): RegExp {
  if (!caseSensitive) return rule.url.insensitive;
  return (rule.url.sensitive ??= fullMatch(rule.rule.url, 's'));
}

const literalParser = new RegExpParser({ ecmaVersion: 2025 });

/** The text a regex matches when it is nothing but plain characters (`project = P1`, `true`); else null. */
export function literalPattern(source: string): string | null {
  let pattern: AST.Pattern;
  try {
    pattern = literalParser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return null;
  }
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
  let pattern: AST.Pattern;
  try {
    pattern = literalParser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return '';
  }
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

/** The compiled side of a {@link RestrictionSet}: rules and, for large sets, an index per case mode. */
export class CompiledSet {
  readonly rules: readonly CompiledRule[];
  readonly hasQuery: boolean;
  readonly hasJson: boolean;
  /** Whether any rule has a method list (without one, a change of method cannot change a decision). */
  readonly hasMethods: boolean;
  /**
   * The last decision that depended on method, path and case mode only (no rule with a QueryParam or
   * JsonData constraint got as far as its constraints): the line, or -1 for none. `memoPath` is a
   * canonical path; undefined until the first such decision.
   */
  memoPath: string | undefined = undefined;
  memoBit = 0;
  memoCaseSensitive = false;
  memoLine = -1;
  private indexInsensitive: TrigramIndex | undefined;
  private indexSensitive: TrigramIndex | undefined;
  /** Per-evaluation memo of URL-group results: valid where `urlStamp[g] === stamp`. */
  private readonly urlStamp: Uint32Array;
  private readonly urlResult: Uint8Array;
  private stamp = 0;

  constructor(rules: readonly Rule[]) {
    const groups = new Map<string, CompiledRule>();
    this.rules = rules.map((rule) => {
      const shared = groups.get(rule.url);
      const compiled = compileRule(rule, shared ? shared.urlGroup : groups.size, shared);
      if (!shared) groups.set(rule.url, compiled);
      return compiled;
    });
    this.urlStamp = new Uint32Array(groups.size);
    this.urlResult = new Uint8Array(groups.size);
    this.hasQuery = this.rules.some((r) => r.query.length > 0);
    this.hasJson = this.rules.some((r) => r.json.length > 0);
    this.hasMethods = this.rules.some((r) => r.rule.methods !== null);
    if (rules.length >= INDEX_THRESHOLD) this.indexInsensitive = new TrigramIndex(this.rules.map((r) => r.literalLower));
  }

  /** The index for a case mode, or undefined when the set is small enough to scan. */
  index(caseSensitive: boolean): TrigramIndex | undefined {
    if (this.rules.length < INDEX_THRESHOLD) return undefined;
    if (!caseSensitive) return this.indexInsensitive;
    return (this.indexSensitive ??= new TrigramIndex(this.rules.map((r) => r.literal)));
  }

  /** Starts an evaluation: forgets the URL results of the previous one. Evaluations never interleave. */
  begin(): void {
    if (++this.stamp === 0xffffffff) {
      this.urlStamp.fill(0);
      this.stamp = 1;
    }
  }

  /** Whether the rule's URL regex matches the path; `haystack` is the path, case-folded unless case-sensitive. */
  urlMatches(rule: CompiledRule, path: string, haystack: string, caseSensitive: boolean): boolean {
    const g = rule.urlGroup;
    if (this.urlStamp[g] === this.stamp) return this.urlResult[g] === 1;
    const literal = caseSensitive ? rule.literal : rule.literalLower;
    const matches = rule.literalOnly
      ? haystack === literal
      : (literal === '' || haystack.includes(literal)) && urlRegex(rule, caseSensitive).test(path);
    this.urlStamp[g] = this.stamp;
    this.urlResult[g] = matches ? 1 : 0;
    return matches;
  }
}
