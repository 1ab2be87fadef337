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

/** A QueryParam constraint, ready to evaluate. */
export interface CompiledQueryParam {
  readonly name: string;
  readonly re: RegExp;
  readonly pattern: string;
}

/** A JsonData constraint, ready to evaluate. */
export interface CompiledJsonData {
  readonly path: readonly string[];
  readonly re: RegExp;
  readonly pattern: string;
}

/** A rule, ready to evaluate. */
export interface CompiledRule {
  readonly rule: Rule;
  readonly line: number;
  readonly mask: number;
  /** Case-insensitive full-match URL regex (the default, Express's default routing). */
  readonly url: RegExp;
  /** Case-sensitive variant, compiled on first use. */
  urlSensitive: RegExp | undefined;
  /** A literal every matching path contains (ASCII, as written), or '' when none is known. */
  readonly literal: string;
  readonly literalLower: string;
  readonly query: readonly CompiledQueryParam[];
  readonly json: readonly CompiledJsonData[];
}

export function compileRule(rule: Rule): CompiledRule {
  const literal = requiredLiteral(rule.url);
  const query: CompiledQueryParam[] = [];
  const json: CompiledJsonData[] = [];
  for (const c of rule.constraints) {
    const re = fullMatch(c.pattern, 's');
    if (c.kind === 'QueryParam') query.push({ name: c.name, re, pattern: c.pattern });
    else json.push({ path: c.path, re, pattern: c.pattern });
  }
  return {
    rule,
    line: rule.line,
    mask: methodMask(rule.methods),
    url: fullMatch(rule.url, 'si'),
    urlSensitive: undefined,
    literal,
    literalLower: literal.toLowerCase(),
    query,
    json,
  };
}

export function urlRegex(rule: CompiledRule, caseSensitive: boolean): RegExp {
  if (!caseSensitive) return rule.url;
  return (rule.urlSensitive ??= fullMatch(rule.rule.url, 's'));
}

const literalParser = new RegExpParser({ ecmaVersion: 2025 });

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
  readonly hasQuery: boolean;
  private indexInsensitive: TrigramIndex | undefined;
  private indexSensitive: TrigramIndex | undefined;

  constructor(readonly rules: readonly CompiledRule[]) {
    this.hasQuery = rules.some((r) => r.query.length > 0);
    if (rules.length >= INDEX_THRESHOLD) this.indexInsensitive = new TrigramIndex(rules.map((r) => r.literalLower));
  }

  /** The index for a case mode, or undefined when the set is small enough to scan. */
  index(caseSensitive: boolean): TrigramIndex | undefined {
    if (this.rules.length < INDEX_THRESHOLD) return undefined;
    if (!caseSensitive) return this.indexInsensitive;
    return (this.indexSensitive ??= new TrigramIndex(this.rules.map((r) => r.literal)));
  }
}
