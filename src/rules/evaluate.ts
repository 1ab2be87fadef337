// Decides whether a request is allowed by a restriction set (SPEC §3), and explains the decision.
import {
  canonicalizePath,
  exceedsBytes,
  isJsonContentType,
  MAX_ARRAY_TEXT_BYTES,
  MAX_EVERY_VALUES,
  MAX_PATH_BYTES,
  MAX_QUERY_BYTES,
  MAX_VALUE_BYTES,
  parseQuery,
  type ParsedQuery,
} from './canonical.js';
import { isCompiled, methodBit, urlRegex, valueMatches, type CompiledJsonData, type CompiledQueryParam, type CompiledRule, type CompiledSet } from './compile.js';
import { formatRule } from './format.js';
import { MAX_TARGETS, RestrictionSet } from './parse.js';
import type { Decision, DenialReason, EvaluateOptions, RestrictionRequest } from './types.js';
import { checkKnownKeys } from '../internal/options.js';

/** A request target after canonicalization, with one method: what every rule is matched against. */
interface Subject {
  method: string;
  bit: number;
  readonly path: string;
  /** The path, ASCII-lower-cased when matching ignores case (what the literals are looked for in). */
  readonly haystack: string;
  readonly rawQuery: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
  readonly caseInsensitive: boolean;
  readonly basePath: string;
  query: ParsedQuery | undefined;
}

/** The matching mode, read once from the options. */
interface Mode {
  readonly caseInsensitive: boolean;
  readonly strict: boolean;
  readonly basePath: string;
}

// Explanations name paths, parameters and patterns but never echo query or body values: those may
// carry secrets, and explanations reach response bodies and audit logs.

const MAX_SHOWN = 64;
const show = (s: string): string => JSON.stringify(s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s);

class RestrictionDecision implements Decision {
  readonly allowed: boolean;
  readonly line: number | undefined;
  readonly reason: DenialReason | undefined;
  #explanation: string | undefined;
  #explain: (() => string) | undefined;

  constructor(allowed: boolean, line: number | undefined, reason: DenialReason | undefined, explain: () => string) {
    this.allowed = allowed;
    this.line = line;
    this.reason = reason;
    this.#explain = explain;
  }

  get explanation(): string {
    if (this.#explanation === undefined) {
      this.#explanation = this.#explain!();
      this.#explain = undefined;
    }
    return this.#explanation;
  }

  toJSON(): { allowed: boolean; line?: number; reason?: DenialReason; explanation: string } {
    return {
      allowed: this.allowed,
      ...(this.line !== undefined && { line: this.line }),
      ...(this.reason !== undefined && { reason: this.reason }),
      explanation: this.explanation,
    };
  }
}

function queryOf(subject: Subject): ParsedQuery {
  return (subject.query ??= parseQuery(subject.rawQuery));
}

// ---- QueryParam (SPEC §3.5) -----------------------------------------------------------------------

/** Why a QueryParam constraint failed, as a small code (kept in the per-request memo); 0 when it holds. */
const enum QueryMiss {
  None = 0,
  Unusable,
  Folded,
  Missing,
  Repeated,
  Oversized,
  Mismatch,
}

function checkQuery(c: CompiledQueryParam, subject: Subject): QueryMiss {
  const query = queryOf(subject);
  if (!query.valid) return QueryMiss.Unusable;
  if (query.isFolded(c.name)) return QueryMiss.Folded;
  const values = query.values(c.name);
  if (values === undefined) return QueryMiss.Missing;
  // Repeated, a name reaches handlers as an array (or, past qs's arrayLimit, an object): never the string checked.
  if (values.length !== 1) return QueryMiss.Repeated;
  if (query.isOversized(c.name)) return QueryMiss.Oversized;
  return valueMatches(c.value, values[0]!) ? QueryMiss.None : QueryMiss.Mismatch;
}

/**
 * A constraint's result from the per-request memo, checked on first use. `stamp` is the query's stamp for
 * QueryParam slots and the request's for JsonData slots.
 */
function memoized<C extends { readonly slot: number }>(compiled: CompiledSet, stamp: number, c: C, subject: Subject, check: (c: C, subject: Subject) => number): number {
  if (compiled.slotStamp[c.slot] === stamp) return compiled.slotResult[c.slot]!;
  const miss = check(c, subject);
  compiled.slotStamp[c.slot] = stamp;
  compiled.slotResult[c.slot] = miss;
  return miss;
}

const queryMiss = (compiled: CompiledSet, c: CompiledQueryParam, subject: Subject): QueryMiss => memoized(compiled, compiled.queryStamp, c, subject, checkQuery);

function describeQueryMiss(miss: QueryMiss, c: CompiledQueryParam, subject: Subject): string {
  const name = show(c.name);
  switch (miss) {
    case QueryMiss.Unusable:
      return queryOf(subject).problem!;
    case QueryMiss.Folded:
      return `the query also has a bracket or dot form of ${name}`;
    case QueryMiss.Missing:
      return `the query has no parameter ${name}`;
    case QueryMiss.Repeated:
      return `the parameter ${name} is repeated (it must occur exactly once: repeated, it reaches handlers as an array)`;
    case QueryMiss.Oversized:
      return `the value of ${name} is longer than ${MAX_VALUE_BYTES} bytes`;
    default:
      return `the value of ${name} does not match ${show(c.value.pattern)}`;
  }
}

// ---- JsonData (SPEC §3.6) -------------------------------------------------------------------------

/** Why a JsonData constraint failed, as a small code (kept in the per-request memo); 0 when it holds. */
const enum JsonMiss {
  None = 0,
  ContentType,
  Missing,
  IsArray,
  NotArray,
  EmptyArray,
  NotScalar,
  OverCap,
  StringNotLiteral,
  Mismatch,
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const ALL_DIGITS = /^\d+$/;
/** The most values one `*` path may reach (their text is capped at MAX_ARRAY_TEXT_BYTES as well). */
const MAX_ELEMENTS = MAX_EVERY_VALUES;

/** The text of a JSON scalar, or null for objects, arrays, non-finite numbers and other values. */
function scalarText(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : null;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return value === null ? 'null' : null;
  }
}

/** One own step of a JSON path: an array by index (all digits), a plain object by key; undefined when absent. */
function step(value: unknown, segment: string): { value: unknown } | undefined {
  if (Array.isArray(value)) return ALL_DIGITS.test(segment) && Object.hasOwn(value, segment) ? { value: value[Number(segment)] } : undefined;
  return isPlainObject(value) && Object.hasOwn(value, segment) ? { value: value[segment] } : undefined;
}

/** Checks one scalar against the constraint. */
function leafMiss(c: CompiledJsonData, value: unknown): JsonMiss {
  if (Array.isArray(value)) return JsonMiss.IsArray;
  const text = scalarText(value);
  if (text === null) return JsonMiss.NotScalar;
  if (exceedsBytes(text, MAX_VALUE_BYTES)) return JsonMiss.OverCap;
  // A regex that can only match true, false or null means the JSON literal: the string "false" is truthy.
  if (c.value.literalWords && typeof value === 'string' && (text === 'true' || text === 'false' || text === 'null')) return JsonMiss.StringNotLiteral;
  return valueMatches(c.value, text) ? JsonMiss.None : JsonMiss.Mismatch;
}

/** The budget of a `*` walk: how many values and how much text it may still examine. */
interface Walk {
  elements: number;
  bytes: number;
}

/** Walks `c.path` from segment `k` on; every value a `*` reaches must hold. */
function walkMiss(c: CompiledJsonData, value: unknown, k: number, walk: Walk): JsonMiss {
  for (; k < c.path.length; k++) {
    if (c.everyElement[k]) {
      if (!Array.isArray(value)) return JsonMiss.NotArray;
      if (value.length === 0) return JsonMiss.EmptyArray;
      for (let i = 0; i < value.length; i++) {
        if (!Object.hasOwn(value, i)) return JsonMiss.Missing;
        const miss = walkMiss(c, value[i], k + 1, walk);
        if (miss !== JsonMiss.None) return miss;
      }
      return JsonMiss.None;
    }
    const next = step(value, c.path[k]!);
    if (next === undefined) return JsonMiss.Missing;
    value = next.value;
  }
  if (c.many) {
    const text = scalarText(value);
    walk.bytes += text === null ? 0 : text.length;
    if (++walk.elements > MAX_ELEMENTS || walk.bytes > MAX_ARRAY_TEXT_BYTES) return JsonMiss.OverCap;
  }
  return leafMiss(c, value);
}

function checkJson(c: CompiledJsonData, subject: Subject): JsonMiss {
  if (!isJsonContentType(subject.contentType)) return JsonMiss.ContentType;
  return walkMiss(c, subject.body, 0, { elements: 0, bytes: 0 });
}

const jsonMiss = (compiled: CompiledSet, c: CompiledJsonData, subject: Subject): JsonMiss => memoized(compiled, compiled.jsonStamp, c, subject, checkJson);

function describeJsonMiss(miss: JsonMiss, c: CompiledJsonData, subject: Subject): string {
  const where = show(c.path.map((s, i) => (c.everyElement[i] ? '*' : s)).join('.'));
  switch (miss) {
    case JsonMiss.ContentType:
      return `the content type ${show(subject.contentType ?? '(none)')} is not application/json`;
    case JsonMiss.Missing:
      return `the JSON body has no ${where}`;
    case JsonMiss.IsArray:
      return `${where} is an array, which a plain path never matches (write ${show(`${c.path.join('.')}.*`)} for every element, or an index)`;
    case JsonMiss.NotArray:
      return `${where}: a \`*\` segment needs an array`;
    case JsonMiss.EmptyArray:
      return `${where}: the array is empty`;
    case JsonMiss.NotScalar:
      return `${where} is not a string, number, boolean or null`;
    case JsonMiss.OverCap:
      return `${where} is over the size cap (${MAX_VALUE_BYTES} bytes a value; ${MAX_ARRAY_TEXT_BYTES} bytes or ${MAX_ELEMENTS} values through \`*\`)`;
    case JsonMiss.StringNotLiteral:
      return `${where} is a string, and ${show(c.value.pattern)} means the JSON literal (true, false or null), never text`;
    default:
      return `the value of ${where} does not match ${show(c.value.pattern)}`;
  }
}

// ---- rules ----------------------------------------------------------------------------------------

/** Whether the rule's QueryParam and JsonData constraints hold (memoized per request). */
function constraintsHold(compiled: CompiledSet, rule: CompiledRule, subject: Subject): boolean {
  for (const c of rule.query) if (queryMiss(compiled, c, subject) !== QueryMiss.None) return false;
  for (const c of rule.json) if (jsonMiss(compiled, c, subject) !== JsonMiss.None) return false;
  return true;
}

/** A rule whose method and URL held but whose QueryParam constraint met an unusable query. */
function failedOnAmbiguousQuery(compiled: CompiledSet, subject: Subject): boolean {
  if (!queryOf(subject).ambiguous) return false;
  return compiled.rules.some(
    (rule) => rule.query.length > 0 && (rule.mask & subject.bit) !== 0 && compiled.urlMatches(rule, subject.path, subject.haystack, subject.caseInsensitive, subject.basePath),
  );
}

// ---- explanations ---------------------------------------------------------------------------------

/** How many rules an explanation describes one by one. */
const EXPLAINED_RULES = 20;
/**
 * A refusal says when a rule's URL would match ignoring case. That test runs a second regex, so it is
 * only made for URL regexes vetted as cheap, and for at most this many steps in all: an explanation
 * never costs what the set budget did not charge.
 */
const CASE_HINT_MAX_COST = 100_000;
const CASE_HINT_TOTAL_COST = 1_000_000;
/**
 * Compiling a regex with the `i` flag can cost far more than running it (V8 spends about 0.1 ms on each
 * `.` of a dotAll pattern), so a hint compiles at most this many characters of regex source in all; a
 * regex compiled already costs nothing.
 */
const CASE_HINT_COMPILE_CHARS = 256;

/** Where a rule failed, recorded while the evaluation's memos are still valid; the text is built later. */
type Failure =
  | { readonly part: 'method' }
  | { readonly part: 'url'; readonly onlyIgnoringCase: boolean }
  | { readonly part: 'query'; readonly c: CompiledQueryParam; readonly miss: QueryMiss }
  | { readonly part: 'json'; readonly c: CompiledJsonData; readonly miss: JsonMiss };

/**
 * Why each of the first rules failed, read from the memos of the evaluation that just denied the request
 * (it visited every rule that could match, in the same order of parts), so no regex runs again here — but
 * for the bounded case hint.
 */
function recordFailures(compiled: CompiledSet, subject: Subject): (Failure | null)[] {
  let hintBudget = subject.caseInsensitive ? 0 : CASE_HINT_TOTAL_COST;
  let compileBudget = CASE_HINT_COMPILE_CHARS;
  return compiled.rules.slice(0, EXPLAINED_RULES).map((rule): Failure | null => {
    if ((rule.mask & subject.bit) === 0) return { part: 'method' };
    if (!compiled.urlMatches(rule, subject.path, subject.haystack, subject.caseInsensitive, subject.basePath)) {
      let onlyIgnoringCase = false;
      const ready = isCompiled(rule.url, true, subject.basePath);
      if (rule.url.cost <= CASE_HINT_MAX_COST && rule.url.cost <= hintBudget && (ready || rule.url.source.length <= compileBudget) && /[A-Za-z]/.test(subject.path)) {
        hintBudget -= rule.url.cost;
        if (!ready) compileBudget -= rule.url.source.length;
        onlyIgnoringCase = urlRegex(rule.url, true, subject.basePath).test(subject.path);
      }
      return { part: 'url', onlyIgnoringCase };
    }
    for (const c of rule.query) {
      const miss = queryMiss(compiled, c, subject);
      if (miss !== QueryMiss.None) return { part: 'query', c, miss };
    }
    for (const c of rule.json) {
      const miss = jsonMiss(compiled, c, subject);
      if (miss !== JsonMiss.None) return { part: 'json', c, miss };
    }
    return null;
  });
}

function describeFailure(rule: CompiledRule, failure: Failure | null, subject: Subject): string {
  if (failure === null) return 'matched';
  switch (failure.part) {
    case 'method':
      return `method ${subject.method} is not in [${rule.rule.methods!.join(',')}]`;
    case 'url': {
      let text = `path ${show(subject.path)} does not match ${show(rule.rule.url)}`;
      if (rule.url.context.length > 0) text += ` (its leading wildcard stands for the context path ${show(subject.basePath)} only)`;
      if (failure.onlyIgnoringCase) text += '; it would match ignoring case, but rules match case-sensitively unless case-insensitive rule matching is turned on';
      return text;
    }
    case 'query':
      return `QueryParam::${failure.c.name}: ${describeQueryMiss(failure.miss, failure.c, subject)}`;
    case 'json':
      return `JsonData::${failure.c.path.map((s, i) => (failure.c.everyElement[i] ? '*' : s)).join('.')}: ${describeJsonMiss(failure.miss, failure.c, subject)}`;
  }
}

function denial(compiled: CompiledSet, subject: Subject): RestrictionDecision {
  const rules = compiled.rules;
  const reason: DenialReason = compiled.hasQuery && failedOnAmbiguousQuery(compiled, subject) ? 'ambiguous_query' : 'no_rule_matched';
  const failures = recordFailures(compiled, subject);
  return new RestrictionDecision(false, undefined, reason, () => {
    const shown = failures.map((failure, k) => `line ${rules[k]!.line}: ${describeFailure(rules[k]!, failure, subject)}`);
    if (rules.length > EXPLAINED_RULES) shown.push(`… and ${rules.length - EXPLAINED_RULES} more rules did not match`);
    return `denied: no rule matched ${subject.method} ${show(subject.path)}\n${shown.join('\n')}`;
  });
}

function ambiguous(message: string): RestrictionDecision {
  return new RestrictionDecision(false, undefined, 'ambiguous_path', () => `denied: ambiguous request path: ${message}`);
}

function allowed(rule: CompiledRule): Decision {
  return new RestrictionDecision(true, rule.line, undefined, () => `allowed by line ${rule.line}: ${formatRule(rule.rule)}`);
}

const UNRESTRICTED = new RestrictionDecision(true, undefined, undefined, () => 'allowed: the token has no restrictions');

// ---- the evaluation -------------------------------------------------------------------------------

const CONTEXT_PATH = /^(?:\/[^/\s]+)+$/;
let lastCheckedBasePath = '';

/**
 * Whether `value` can be a `basePath`: '' or a context path such as `/jira` (segments after a `/`, no
 * white space, no trailing `/`, at most 256 characters). The guard checks its option with this too.
 */
export function isContextPath(value: unknown): value is string {
  return typeof value === 'string' && (value === '' || (value.length <= 256 && CONTEXT_PATH.test(value)));
}

const EVALUATE_OPTIONS = ['caseInsensitive', 'strict', 'basePath'];
/** Options objects whose keys and types were checked: a caller (the guard) passes the same object on every call. */
const CHECKED_OPTIONS = new WeakSet<object>();

/** Reads the options once; a programmer mistake throws (SPEC: a `TypeError` that names the option and the fix). */
function modeOf(options: EvaluateOptions | undefined): Mode {
  if (options === undefined) return DEFAULT_MODE;
  if (typeof options !== 'object' || options === null) throw new TypeError('evaluateRestrictions: options must be an object such as { strict: true }');
  if ((options as { caseSensitive?: unknown }).caseSensitive !== undefined) {
    throw new TypeError(
      'evaluateRestrictions: options.caseSensitive was removed: rules now match case-sensitively by default (SPEC §3.2); pass { caseInsensitive: true } to match ignoring case',
    );
  }
  if (!CHECKED_OPTIONS.has(options)) {
    checkKnownKeys('evaluateRestrictions', options, EVALUATE_OPTIONS);
    for (const name of ['caseInsensitive', 'strict'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean') throw new TypeError(`evaluateRestrictions: options.${name} must be a boolean, got ${typeof options[name]}`);
    }
    CHECKED_OPTIONS.add(options);
  }
  const basePath = options.basePath ?? '';
  if (basePath !== lastCheckedBasePath) {
    if (!isContextPath(basePath)) {
      throw new TypeError(`options.basePath must be '' or a context path such as '/jira' (a leading "/", no trailing "/"); got ${JSON.stringify(basePath)}`);
    }
    lastCheckedBasePath = basePath;
  }
  const caseInsensitive = options.caseInsensitive === true;
  const strict = options.strict === true;
  if (basePath === '') return MODES[(caseInsensitive ? 1 : 0) | (strict ? 2 : 0)]!;
  return { caseInsensitive, strict, basePath };
}

const MODES: readonly Mode[] = [
  { caseInsensitive: false, strict: false, basePath: '' },
  { caseInsensitive: true, strict: false, basePath: '' },
  { caseInsensitive: false, strict: true, basePath: '' },
  { caseInsensitive: true, strict: true, basePath: '' },
];
const DEFAULT_MODE = MODES[0]!;

/**
 * The index of the first rule that allows the subject, or -1. Uses the URL memo of the current target and
 * the constraint memos of the current request. A decision that depended on method, path and mode alone
 * is remembered on the compiled set, for the next call with the same ones.
 */
function firstAllowing(compiled: CompiledSet, subject: Subject): number {
  const { path, bit, caseInsensitive, basePath } = subject;
  if (compiled.memoPath === path && compiled.memoBit === bit && compiled.memoCaseInsensitive === caseInsensitive && compiled.memoBasePath === basePath) {
    return compiled.memoIndex;
  }
  const rules = compiled.rules;
  const index = compiled.index(caseInsensitive);
  const candidates = index === undefined ? undefined : index.candidates(subject.haystack);
  let found = -1;
  let pure = true;
  for (let k = 0, n = candidates === undefined ? rules.length : candidates.length; k < n; k++) {
    const i = candidates === undefined ? k : candidates[k]!;
    const rule = rules[i]!;
    if ((rule.mask & bit) === 0 || !compiled.urlMatches(rule, path, subject.haystack, caseInsensitive, basePath)) continue;
    if (rule.query.length > 0 || rule.json.length > 0) {
      pure = false;
      if (!constraintsHold(compiled, rule, subject)) continue;
    }
    found = i;
    break;
  }
  if (pure) {
    compiled.memoPath = path;
    compiled.memoBit = bit;
    compiled.memoCaseInsensitive = caseInsensitive;
    compiled.memoBasePath = basePath;
    compiled.memoIndex = found;
  }
  return found;
}

function subjectOf(method: string, path: string, rawQuery: string, contentType: string | undefined, body: unknown, mode: Mode): Subject {
  return {
    method,
    bit: methodBit(method),
    path,
    haystack: mode.caseInsensitive ? asciiLowerCase(path) : path,
    rawQuery,
    contentType,
    body,
    caseInsensitive: mode.caseInsensitive,
    basePath: mode.basePath,
    query: undefined,
  };
}

/**
 * Evaluates a request against a parsed restriction set (SPEC §3). Never throws for bad request data:
 * an unusable request is denied with a reason.
 *
 * @example
 * const set = parseRestrictions('[GET]/rest/api/2/issue/[A-Z]+-\\d+');
 * evaluateRestrictions(set, { method: 'GET', url: '/rest/api/2/issue/JRA-1' }) // { allowed: true, line: 1, … }
 */
export function evaluateRestrictions(set: RestrictionSet, request: RestrictionRequest, options?: EvaluateOptions): Decision {
  const compiled = RestrictionSet.compiled(set);
  const mode = modeOf(options);
  const target = typeof request?.url === 'string' ? request.url : '';
  const q = target.indexOf('?');
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const canonical = canonicalizePath(q < 0 ? target : target.slice(0, q), mode);
  if (!canonical.ok) return ambiguous(canonical.message);
  if (rawQuery.includes('#')) return ambiguous('the request target contains `#`');
  if (compiled.rules.length === 0) return UNRESTRICTED;
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : String(request.method);
  const subject = subjectOf(method, canonical.path, rawQuery, request.contentType, request.body, mode);
  compiled.beginRequest();
  compiled.begin();
  const found = firstAllowing(compiled, subject);
  return found >= 0 ? allowed(compiled.rules[found]!) : denial(compiled, subject);
}

/** What {@link decideRequest} found when it refused: the method and target that were denied, and why. */
export interface Denial {
  readonly method: string;
  readonly target: string;
  readonly decision: Decision;
}

/**
 * The guard's question, for every method and every target a request could be dispatched as (SPEC §5):
 * the line that allows the first method on the first target, 0 for a set without rules, or a
 * {@link Denial} for the first pair that is not allowed. Always the decisions `evaluateRestrictions` makes
 * pair by pair, but one request costs at most what the set budget charges: methods are tried once per
 * method bit, each URL regex once per target, each constraint once per request (per query string), at
 * most four distinct targets are taken, and targets that differ may not together exceed the caps of one
 * (their cost adds up like one longer one); more, or longer, is an ambiguous request.
 * `methods` are upper-case; allocation-free when the request is allowed.
 */
export function decideRequest(
  set: RestrictionSet,
  methods: readonly string[],
  targets: readonly string[],
  contentType: string | undefined,
  body: unknown,
  options?: EvaluateOptions,
): number | Denial {
  const compiled = RestrictionSet.compiled(set);
  const mode = modeOf(options);
  const rules = compiled.rules;
  let first = -1;
  let pathBytes = 0;
  let queryBytes = 0;
  let lastQuery = '';
  let distinct = 0;
  for (let t = 0; t < targets.length; t++) {
    const target = targets[t]!;
    if (targets.indexOf(target) < t) continue;
    if (++distinct > MAX_TARGETS) return { method: methods[0]!, target, decision: ambiguous(`the request could be dispatched to more than ${MAX_TARGETS} different targets`) };
    const q = target.indexOf('?');
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const canonical = canonicalizePath(q < 0 ? target : target.slice(0, q), mode);
    if (!canonical.ok) return { method: methods[0]!, target, decision: ambiguous(canonical.message) };
    if (rawQuery.includes('#')) return { method: methods[0]!, target, decision: ambiguous('the request target contains `#`') };
    pathBytes += q < 0 ? target.length : q;
    queryBytes += rawQuery.length;
    if (t > 0 && (pathBytes > MAX_PATH_BYTES || queryBytes > MAX_QUERY_BYTES)) {
      return { method: methods[0]!, target, decision: ambiguous(`the request's targets differ and together are longer than one may be (${MAX_PATH_BYTES} bytes of path, ${MAX_QUERY_BYTES} of query)`) };
    }
    if (rules.length === 0) {
      first = 0;
      continue;
    }
    let subject: Subject | undefined;
    // Constraint results hold for the whole request; QueryParam ones only while the query is the same.
    if (t === 0) compiled.beginRequest();
    else if (rawQuery !== lastQuery) compiled.beginQuery();
    lastQuery = rawQuery;
    compiled.begin();
    let bits = 0;
    for (let m = 0; m < methods.length; m++) {
      const method = methods[m]!;
      const bit = methodBit(method);
      if ((bits & bit) !== 0) continue;
      bits |= bit;
      if (subject === undefined) subject = subjectOf(method, canonical.path, rawQuery, contentType, body, mode);
      else {
        subject.method = method;
        subject.bit = bit;
      }
      const found = firstAllowing(compiled, subject);
      if (found < 0) return { method, target, decision: denial(compiled, subject) };
      if (first < 0) first = rules[found]!.line;
    }
  }
  return first;
}

/**
 * {@link decideRequest} for one method and one target: the allowing line, 0 for a set without rules, -1
 * when denied (`evaluateRestrictions` then says why).
 */
export function allowingLine(set: RestrictionSet, method: string, target: string, contentType: string | undefined, body: unknown, options?: EvaluateOptions): number {
  const verdict = decideRequest(set, [method], [target], contentType, body, options);
  return typeof verdict === 'number' ? verdict : -1;
}

const NON_ASCII = /[^\x00-\x7f]/;
const ASCII_UPPER = /[A-Z]+/g;

/**
 * Lower-cases ASCII letters only. The URL regexes match case-insensitively without the `u` flag, where
 * no non-ASCII character matches an ASCII one; `toLowerCase` would turn the Kelvin sign into `k`.
 */
function asciiLowerCase(s: string): string {
  return NON_ASCII.test(s) ? s.replace(ASCII_UPPER, (m) => m.toLowerCase()) : s.toLowerCase();
}

/**
 * Whether a rule with a JsonData constraint could decide this request once its body is known: the rule's
 * method list admits `request.method` and the path holds the literal every path its URL regex matches must
 * hold. No regex runs (the evaluation that follows runs them once); the guard reads an unparsed body only
 * then. False for an ambiguous path (that request is denied whatever its body).
 */
export function needsJsonBody(set: RestrictionSet, request: Pick<RestrictionRequest, 'method' | 'url'>, options?: EvaluateOptions): boolean {
  const compiled = RestrictionSet.compiled(set);
  if (!compiled.hasJson) return false;
  const mode = modeOf(options);
  const target = typeof request?.url === 'string' ? request.url : '';
  const q = target.indexOf('?');
  const canonical = canonicalizePath(q < 0 ? target : target.slice(0, q), mode);
  if (!canonical.ok) return false;
  const bit = methodBit(typeof request.method === 'string' ? request.method.toUpperCase() : String(request.method));
  const haystack = mode.caseInsensitive ? asciiLowerCase(canonical.path) : canonical.path;
  return compiled.rules.some((rule) => rule.json.length > 0 && (rule.mask & bit) !== 0 && compiled.mayMatchUrl(rule, haystack, mode.caseInsensitive));
}
