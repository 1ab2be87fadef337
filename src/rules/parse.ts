// Parses restriction text into a compiled RestrictionSet, collecting every error of every line (SPEC §2).
import { exceedsBytes, MAX_EVERY_VALUES, MAX_PATH_BYTES, MAX_VALUE_BYTES } from './canonical.js';
import { CompiledSet } from './compile.js';
import { RestrictionSyntaxError, type RestrictionDiagnostic, type RestrictionErrorCode } from './errors.js';
import { scanLine, type ScannedRule } from './parse-line.js';
import { linearRegex, type LinearRegex, type LinearWorkBudget } from './linear-regex.js';
import { COST_BUDGET, vetRegex } from './regex-safety.js';
import type { ParseOptions, Rule } from './types.js';
import { checkKnownKeys } from '../internal/options.js';

/** Lines longer than this many UTF-8 bytes are rejected (`line_too_long`). */
export const MAX_LINE_BYTES = 4096;
/** The default of {@link ParseOptions.maxRules}. */
export const DEFAULT_MAX_RULES = 1000;
/** The default of {@link ParseOptions.maxBytes}: 128 KiB. */
export const DEFAULT_MAX_BYTES = 131_072;

const COMPILED = Symbol('tokenfence.compiled');

/**
 * A parsed, validated and compiled restriction text. `rules` is plain data (safe to log, compare and
 * serialise); the compiled regexes and index live on a hidden property used by `evaluateRestrictions`.
 */
export class RestrictionSet {
  /** The rule lines in order; empty means the token is unrestricted within the guard's scope. */
  readonly rules: readonly Rule[];
  declare private readonly [COMPILED]: CompiledSet;

  /** @internal Use {@link parseRestrictions}. */
  constructor(rules: readonly Rule[], compiled: CompiledSet) {
    this.rules = Object.freeze(rules);
    Object.defineProperty(this, COMPILED, { value: compiled, enumerable: false });
  }

  /** @internal */
  static compiled(set: RestrictionSet): CompiledSet {
    if (!(set instanceof RestrictionSet)) {
      throw new TypeError('expected a RestrictionSet from parseRestrictions(text); parse the text once and reuse the set');
    }
    return set[COMPILED];
  }
}

/** Everything known about a text: its valid rules and its errors. Used by parse and lint. */
export interface Analysis {
  readonly rules: Rule[];
  readonly scanned: ScannedRule[];
  readonly errors: RestrictionDiagnostic<RestrictionErrorCode>[];
  readonly lineCount: number;
  /** The vetted cost of each valid rule's URL regex, in the order of `rules`. */
  readonly urlCosts: number[];
  /** The value regexes that run on the linear engine (the analysis could not prove them cheap), by source. */
  readonly linear: Map<string, LinearRegex>;
}

/** Verdicts are pure functions of the source, so identical regexes (common in large sets) are vetted once. */
const verdictCache = new Map<string, ReturnType<typeof vetRegex>>();
function vetCached(source: string, maxInput: number): ReturnType<typeof vetRegex> {
  const key = `${maxInput}:${source}`;
  let verdict = verdictCache.get(key);
  if (verdict === undefined) {
    verdict = vetRegex(source, maxInput);
    if (verdictCache.size >= 2000) verdictCache.delete(verdictCache.keys().next().value!);
    verdictCache.set(key, verdict);
  }
  return verdict;
}

/** V8's message without the echo of the whole pattern: `Invalid regular expression: /x/s: Unterminated group`. */
function regexProblem(source: string): string | null {
  try {
    new RegExp(source, 's');
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return message.slice(message.lastIndexOf(': ') + 2) || message;
  }
}

/**
 * The budget of a whole set: the worst case of one request checked against every rule. It charges what
 * evaluation runs (see `CompiledSet`): each distinct URL regex runs once per request target, each distinct
 * (QueryParam regex, name) and (JsonData regex, path) pair once per request, however many lines repeat it.
 *
 * A regex's cost has a part that grows with the text and a part that does not (bounded repetitions try
 * their spreads on any text): the first is charged at the cap, the second — the cost on a short text,
 * {@link SHORT_INPUT} characters — for every further run one request may make. So a URL regex is charged
 * its cost at the path cap plus the short cost for each further target (the targets of one request
 * together stay within one path's cap); a QueryParam regex twice its cost at a value's cap (the values of
 * one query string together stay within the query cap) plus the short cost for each name it constrains; a
 * (JsonData regex, path) pair twice its cost at the cap (a `*` path reaches up to twice a value's size),
 * plus, for a `*` path, the short cost for each value it may reach. The set budget is the line budget:
 * measured on V8, that is ~30 ms at most on one request (a thousand ordinary rules cost about 1e7).
 */
export const SET_COST_BUDGET = COST_BUDGET;
/** The text length at which the length-independent part of a regex's cost is read. */
const SHORT_INPUT = 64;
/** The most distinct targets `decideRequest` evaluates for one request (see there). */
export const MAX_TARGETS = 4;

/** One regex of a rule, with what the set budget charges for it. */
interface ChargedRegex {
  readonly source: string;
  readonly column: number;
  readonly maxInput: number;
  readonly what: string;
  /** What it costs: `weight` runs at the cap plus `shortRuns` runs on a short text, under `key` (runs that evaluation shares). */
  readonly charges: readonly { readonly key: string; readonly weight: number; readonly shortRuns: number }[];
}

function regexesOf(rule: ScannedRule): ChargedRegex[] {
  return [
    { source: rule.url, column: rule.urlColumn, maxInput: MAX_PATH_BYTES, what: 'URL regex', charges: [{ key: `u\0${rule.url}`, weight: 1, shortRuns: MAX_TARGETS - 1 }] },
    ...rule.constraints.map((c, k): ChargedRegex => {
      const column = rule.patternColumns[k]!;
      if (c.kind === 'QueryParam') {
        return {
          source: c.pattern,
          column,
          maxInput: MAX_VALUE_BYTES,
          what: 'QueryParam regex',
          charges: [
            { key: `q\0${c.pattern}`, weight: 2, shortRuns: 0 },
            { key: `qn\0${c.pattern}\0${c.name}`, weight: 0, shortRuns: 1 },
          ],
        };
      }
      const many = c.everyElement.includes(true);
      const path = c.path.map((segment, i) => (c.everyElement[i] ? '\0*' : `.${segment}`)).join('');
      return {
        source: c.pattern,
        column,
        maxInput: MAX_VALUE_BYTES,
        what: 'JsonData regex',
        charges: [{ key: `j\0${c.pattern}\0${path}`, weight: 2, shortRuns: many ? MAX_EVERY_VALUES : 0 }],
      };
    }),
  ];
}

/**
 * What one character costs a regex run as a DFA, in the budget's steps (about a nanosecond each): a table
 * walk with a binary search of the character's class outside ASCII, measured at 2–6 ns.
 */
export const LINEAR_CHAR_COST = 16;
/** A value regex the analysis costs above this (about 3 ms) runs as a DFA when it can. */
const LINEAR_PREFERRED_COST = COST_BUDGET / 8;
/** The most transition-table cells the DFAs of one set may hold together (4 bytes each: 4 MiB). */
export const MAX_SET_DFA_CELLS = 1_048_576;
/**
 * The most work the linear-engine translations of one parse may take, in units of `linearRegex` (a unit is
 * 0.05–1 µs: building every DFA of one set takes at most about 0.3–1 s); each translation also counts
 * {@link LINEAR_CALL_WORK} for what it costs whatever its size.
 */
export const LINEAR_SET_WORK = 1_500_000;
const LINEAR_CALL_WORK = 10_000;

/**
 * The most word boundaries the V8-compiled regexes of one text may hold together (each distinct regex
 * counted once): with at most {@link MAX_WORD_BOUNDARIES} in one, compiling them all takes tens of ms.
 */
export const MAX_SET_WORD_BOUNDARIES = 256;

/** The word boundaries counted so far in one parse, and the sources they were counted for. */
interface WordBoundaries {
  total: number;
  readonly sources: Set<string>;
}

/** The linear-engine translations of one parse: each source once, within the set's memory bound. */
class LinearWork {
  private readonly bySource = new Map<string, LinearRegex | { reason: string }>();
  private cells = 0;
  private readonly work: LinearWorkBudget = { spent: 0, limit: LINEAR_SET_WORK };

  get(source: string): LinearRegex | { reason: string } {
    let result = this.bySource.get(source);
    if (result === undefined) {
      try {
        this.work.spent += LINEAR_CALL_WORK;
        result = this.work.spent > this.work.limit ? { reason: `the set's translation work is used up (${LINEAR_SET_WORK} units)` } : linearRegex(source, false, this.work);
      } catch {
        // linearRegex turns its known limits into reasons; anything unforeseen is refused, never a crash of the parse.
        result = { reason: 'the linear engine could not translate it' };
      }
      if (!('reason' in result)) {
        if (this.cells + result.cells > MAX_SET_DFA_CELLS) {
          result = { reason: `the automata of this set would need more than ${MAX_SET_DFA_CELLS} table cells` };
        } else this.cells += result.cells;
      }
      this.bySource.set(source, result);
    }
    return result;
  }

  /** The translations the valid rules use. */
  accepted(rules: readonly Rule[]): Map<string, LinearRegex> {
    const out = new Map<string, LinearRegex>();
    for (const rule of rules) {
      for (const c of rule.constraints) {
        const r = this.bySource.get(c.pattern);
        if (r !== undefined && !('reason' in r)) out.set(c.pattern, r);
      }
    }
    return out;
  }
}

/**
 * Checks every regex of a scanned rule; returns the errors (empty when the rule is fine), the cost of the
 * runs not in `counted` yet, and the URL regex's own cost.
 */
function checkRegexes(
  rule: ScannedRule,
  line: number,
  counted: Set<string>,
  linear: LinearWork,
  boundaries: WordBoundaries,
): { errors: RestrictionDiagnostic<RestrictionErrorCode>[]; newCost: number; urlCost: number } {
  const errors: RestrictionDiagnostic<RestrictionErrorCode>[] = [];
  let newBoundaries = 0;
  const boundarySources: string[] = [];
  let lineCost = 0;
  let newCost = 0;
  let urlCost = Infinity;
  const keys: string[] = [];
  for (const r of regexesOf(rule)) {
    const problem = regexProblem(r.source);
    if (problem !== null) {
      errors.push({ line, column: r.column, code: 'invalid_regex', message: `invalid ${r.what}: ${problem}` });
      continue;
    }
    let verdict = vetCached(r.source, r.maxInput);
    let shortCost = 0;
    // A value regex the analysis cannot prove cheap, or proves only costly, runs in linear time as a DFA
    // when it can: a costly one would otherwise take most of the set's budget.
    const costly = !verdict.ok || verdict.cost > LINEAR_PREFERRED_COST;
    const fallback = r.what === 'URL regex' || !costly ? null : linear.get(r.source);
    if (fallback !== null && !('reason' in fallback)) {
      verdict = { ok: true, cost: LINEAR_CHAR_COST * r.maxInput, wordBoundaries: 0 };
      shortCost = LINEAR_CHAR_COST * SHORT_INPUT;
    } else if (verdict.ok) {
      const short = vetCached(r.source, SHORT_INPUT);
      shortCost = short.ok ? short.cost : verdict.cost;
    } else {
      const why = fallback === null ? '' : `; nor can it run in linear time: ${fallback.reason}`;
      errors.push({ line, column: r.column + verdict.index, code: 'unsafe_regex', message: `unsafe ${r.what}: ${verdict.message}${why}` });
      continue;
    }
    if (r.what === 'URL regex') urlCost = verdict.cost;
    if (verdict.wordBoundaries > 0 && !boundaries.sources.has(r.source) && !boundarySources.includes(r.source)) {
      boundarySources.push(r.source);
      newBoundaries += verdict.wordBoundaries;
    }
    for (const charge of r.charges) {
      const cost = verdict.cost * charge.weight + shortCost * charge.shortRuns;
      lineCost += cost;
      if (!counted.has(charge.key) && !keys.includes(charge.key)) {
        keys.push(charge.key);
        newCost += cost;
      }
    }
  }
  if (errors.length === 0 && lineCost > COST_BUDGET) {
    errors.push({
      line,
      column: rule.urlColumn,
      code: 'unsafe_regex',
      message: `the regexes of this line together may take about ${lineCost.toExponential(1)} backtracking steps on one request (the budget is ${COST_BUDGET.toExponential(1)})`,
    });
  }
  if (errors.length === 0 && boundaries.total + newBoundaries > MAX_SET_WORD_BOUNDARIES) {
    errors.push({
      line,
      column: rule.urlColumn,
      code: 'unsafe_regex',
      message: `with this line the regexes of the text hold more than ${MAX_SET_WORD_BOUNDARIES} word boundaries (\\b, \\B), which V8 is slow to compile; use fewer`,
    });
  }
  if (errors.length === 0) {
    for (const key of keys) counted.add(key);
    boundaries.total += newBoundaries;
    for (const source of boundarySources) boundaries.sources.add(source);
  }
  return { errors, newCost: errors.length === 0 ? newCost : 0, urlCost };
}

const PARSE_OPTIONS = ['maxRules', 'maxBytes'];
/** Options of evaluation given to the parse by mistake. */
const OPTIONS_OF_EVALUATION: Readonly<Record<string, string>> = Object.fromEntries(
  ['caseInsensitive', 'strict', 'basePath'].map((name) => [name, `${name} is an option of evaluation: evaluateRestrictions(set, request, { ${name} }), or tokenGuard's option`]),
);

/** Scans and vets every line without throwing; a mistaken options object throws a TypeError that names the option. */
export function analyseRestrictions(text: string, options: ParseOptions = {}): Analysis {
  if (typeof text !== 'string') throw new TypeError(`restrictions must be a string, got ${text === null ? 'null' : typeof text}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('parseRestrictions: options must be an object such as { maxRules: 1000 }');
  checkKnownKeys('parseRestrictions', options, PARSE_OPTIONS, OPTIONS_OF_EVALUATION);
  const maxRules = options.maxRules ?? DEFAULT_MAX_RULES;
  if (!Number.isInteger(maxRules) || maxRules < 0) {
    throw new TypeError(`options.maxRules must be a non-negative integer, got ${String(maxRules)}`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`options.maxBytes must be a non-negative integer (bytes), got ${String(maxBytes)}`);
  }
  const lines = text.split('\n');
  if (exceedsBytes(text, maxBytes)) {
    // Nothing is vetted: that work is what the limit bounds. The line that crosses it is named.
    let bytes = 0;
    let line = 0;
    while (line < lines.length && bytes <= maxBytes) bytes += Buffer.byteLength(lines[line++]!, 'utf8') + 1;
    const error = { line, column: 1, code: 'text_too_long' as const, message: `the text is longer than ${maxBytes} bytes (the limit is options.maxBytes); split the rules over several tokens or shorten them` };
    return { rules: [], scanned: [], errors: [error], lineCount: lines.length, urlCosts: [], linear: new Map() };
  }
  const rules: Rule[] = [];
  const scanned: ScannedRule[] = [];
  const urlCosts: number[] = [];
  const errors: RestrictionDiagnostic<RestrictionErrorCode>[] = [];
  let ruleCount = 0;
  const counted = new Set<string>();
  const linear = new LinearWork();
  const boundaries: WordBoundaries = { total: 0, sources: new Set() };
  let setCost = 0;
  let setOverBudget = false;
  lines.forEach((raw, index) => {
    const line = index + 1;
    const result = scanLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw, line, MAX_LINE_BYTES);
    if (result.kind === 'skip') return;
    if (++ruleCount === maxRules + 1) {
      errors.push({ line, column: 1, code: 'too_many_rules', message: `more than ${maxRules} rules (the limit is options.maxRules)` });
    }
    if (result.kind === 'error') {
      errors.push(...result.errors);
      return;
    }
    const { errors: regexErrors, newCost, urlCost } = checkRegexes(result.rule, line, counted, linear, boundaries);
    if (regexErrors.length > 0) {
      errors.push(...regexErrors);
      return;
    }
    setCost += newCost;
    if (setCost > SET_COST_BUDGET && !setOverBudget) {
      // Reported once, on the line that crosses the budget: each line is fine, the set is not.
      setOverBudget = true;
      errors.push({
        line,
        column: result.rule.urlColumn,
        code: 'unsafe_regex',
        message:
          `with this line the set's regexes may take about ${setCost.toExponential(1)} backtracking steps on one request ` +
          `(the budget of a set is ${SET_COST_BUDGET.toExponential(1)}); use [^/]* for one path segment instead of .*, or fewer costly lines`,
      });
    }
    urlCosts.push(urlCost);
    const { methods, url, urlColumn, constraints } = result.rule;
    rules.push(Object.freeze({ line, methods: methods && Object.freeze(methods), url, urlColumn, constraints: Object.freeze(constraints.map((c) => Object.freeze(c))) }));
    scanned.push(result.rule);
  });
  return { rules, scanned, errors, lineCount: lines.length, urlCosts, linear: linear.accepted(rules) };
}

/**
 * Parses restriction text (one rule per line) into a compiled set. Throws a
 * {@link RestrictionSyntaxError} listing every error of every line.
 *
 * @example
 * const set = parseRestrictions('[post].*\/rest/api/2/issue/KANBAN-100/comment.*');
 * evaluateRestrictions(set, { method: 'POST', url: '/rest/api/2/issue/KANBAN-100/comment' }).allowed // true
 */
export function parseRestrictions(text: string, options: ParseOptions = {}): RestrictionSet {
  const analysis = analyseRestrictions(text, options);
  if (analysis.errors.length > 0) throw new RestrictionSyntaxError(analysis.errors);
  return new RestrictionSet(analysis.rules, new CompiledSet(analysis.rules, analysis.urlCosts, analysis.linear));
}
