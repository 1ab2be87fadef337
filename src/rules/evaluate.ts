// Decides whether a request is allowed by a restriction set (SPEC §3), and explains the decision.
import {
  canonicalizePath,
  exceedsBytes,
  isJsonContentType,
  MAX_ARRAY_TEXT_BYTES,
  MAX_VALUE_BYTES,
  parseQuery,
  type ParsedQuery,
} from './canonical.js';
import { methodBit, urlRegex, valueMatches, type CompiledJsonData, type CompiledQueryParam, type CompiledRule, type CompiledSet } from './compile.js';
import { formatRule } from './format.js';
import { RestrictionSet } from './parse.js';
import type { Decision, DenialReason, EvaluateOptions, RestrictionRequest } from './types.js';

/** A request after canonicalization: what every rule is matched against. */
interface Subject {
  readonly method: string;
  readonly bit: number;
  readonly path: string;
  readonly rawQuery: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
  readonly caseSensitive: boolean;
  query: ParsedQuery | undefined;
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

/** Why a QueryParam constraint failed, as an allocation-free code; null when it holds. */
type QueryMiss = 'unusable' | 'folded' | 'missing' | 'oversized' | 'mismatch' | null;

function checkQuery(c: CompiledQueryParam, subject: Subject): QueryMiss {
  const query = queryOf(subject);
  if (!query.valid) return 'unusable';
  if (query.isFolded(c.name)) return 'folded';
  const values = query.values(c.name);
  if (values === undefined) return 'missing';
  if (query.isOversized(c.name)) return 'oversized';
  for (const value of values) if (!valueMatches(c, value)) return 'mismatch';
  return null;
}

function describeQueryMiss(miss: Exclude<QueryMiss, null>, c: CompiledQueryParam, subject: Subject): string {
  const name = show(c.name);
  switch (miss) {
    case 'unusable':
      return queryOf(subject).problem!;
    case 'folded':
      return `the query also has a bracket or dot form of ${name}`;
    case 'missing':
      return `the query has no parameter ${name}`;
    case 'oversized':
      return `a value of ${name} is longer than ${MAX_VALUE_BYTES} bytes`;
    case 'mismatch':
      return `a value of ${name} does not match ${show(c.pattern)}`;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const ALL_DIGITS = /^\d+$/;

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

/** Why a JsonData constraint failed, as an allocation-free code; null when it holds. */
type JsonMiss = 'content_type' | 'missing' | 'empty_array' | 'not_scalar' | 'over_cap' | 'mismatch' | null;

function checkJson(c: CompiledJsonData, subject: Subject): JsonMiss {
  if (!isJsonContentType(subject.contentType)) return 'content_type';
  let value: unknown = subject.body;
  for (const segment of c.path) {
    const own = Array.isArray(value) ? ALL_DIGITS.test(segment) && Object.hasOwn(value, segment) : isPlainObject(value) && Object.hasOwn(value, segment);
    if (!own) return 'missing';
    value = (value as Record<string, unknown>)[segment];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return 'empty_array';
    let total = 0;
    for (const element of value) {
      const text = scalarText(element);
      if (text === null) return 'not_scalar';
      total += text.length;
      if (exceedsBytes(text, MAX_VALUE_BYTES) || total > MAX_ARRAY_TEXT_BYTES) return 'over_cap';
      if (!valueMatches(c, text)) return 'mismatch';
    }
    return null;
  }
  const text = scalarText(value);
  if (text === null) return 'not_scalar';
  if (exceedsBytes(text, MAX_VALUE_BYTES)) return 'over_cap';
  return valueMatches(c, text) ? null : 'mismatch';
}

function describeJsonMiss(miss: Exclude<JsonMiss, null>, c: CompiledJsonData, subject: Subject): string {
  const where = show(c.path.join('.'));
  switch (miss) {
    case 'content_type':
      return `the content type ${show(subject.contentType ?? '(none)')} is not application/json`;
    case 'missing':
      return `the JSON body has no ${where}`;
    case 'empty_array':
      return `${where} is an empty array`;
    case 'not_scalar':
      return `${where} is not a scalar or an array of scalars`;
    case 'over_cap':
      return `${where} is over the size cap (${MAX_VALUE_BYTES} bytes a value, ${MAX_ARRAY_TEXT_BYTES} an array)`;
    case 'mismatch':
      return `a value of ${where} does not match ${show(c.pattern)}`;
  }
}

/** Checks method, URL and constraints in that order; the first failing part, described, or null when all hold. */
function ruleFailure(rule: CompiledRule, subject: Subject): string | null {
  if ((rule.mask & subject.bit) === 0) {
    return `method ${subject.method} is not in [${rule.rule.methods!.join(',')}]`;
  }
  if (!urlRegex(rule, subject.caseSensitive).test(subject.path)) {
    return `path ${show(subject.path)} does not match ${show(rule.rule.url)}`;
  }
  for (const c of rule.query) {
    const miss = checkQuery(c, subject);
    if (miss !== null) return `QueryParam::${c.name}: ${describeQueryMiss(miss, c, subject)}`;
  }
  for (const c of rule.json) {
    const miss = checkJson(c, subject);
    if (miss !== null) return `JsonData::${c.path.join('.')}: ${describeJsonMiss(miss, c, subject)}`;
  }
  return null;
}

/** The fast check: method bit first, then the URL (memoized per group), then the constraints. */
function ruleHolds(compiled: CompiledSet, rule: CompiledRule, subject: Subject, haystack: string): boolean {
  if ((rule.mask & subject.bit) === 0) return false;
  if (!compiled.urlMatches(rule, subject.path, haystack, subject.caseSensitive)) return false;
  return constraintsHold(rule, subject);
}

/** Whether the rule's QueryParam and JsonData constraints hold. */
function constraintsHold(rule: CompiledRule, subject: Subject): boolean {
  for (const c of rule.query) if (checkQuery(c, subject) !== null) return false;
  for (const c of rule.json) if (checkJson(c, subject) !== null) return false;
  return true;
}

/** A rule whose method and URL held but whose QueryParam constraint met an unusable query. */
function failedOnAmbiguousQuery(compiled: CompiledSet, subject: Subject, haystack: string): boolean {
  if (!queryOf(subject).ambiguous) return false;
  return compiled.rules.some(
    (rule) => rule.query.length > 0 && (rule.mask & subject.bit) !== 0 && compiled.urlMatches(rule, subject.path, haystack, subject.caseSensitive),
  );
}

function explainDenial(rules: readonly CompiledRule[], subject: Subject): string {
  const shown = rules.slice(0, 20).map((rule) => `line ${rule.line}: ${ruleFailure(rule, subject) ?? 'matched'}`);
  if (rules.length > 20) shown.push(`… and ${rules.length - 20} more rules did not match`);
  return `denied: no rule matched ${subject.method} ${show(subject.path)}\n${shown.join('\n')}`;
}

/**
 * Evaluates a request against a parsed restriction set (SPEC §3). Never throws for bad request data:
 * an unusable request is denied with a reason.
 *
 * @example
 * const set = parseRestrictions('[GET]/rest/api/2/issue/[A-Z]+-\\d+');
 * evaluateRestrictions(set, { method: 'GET', url: '/rest/api/2/issue/JRA-1' }) // { allowed: true, line: 1, … }
 */
export function evaluateRestrictions(set: RestrictionSet, request: RestrictionRequest, options: EvaluateOptions = {}): Decision {
  const compiled = RestrictionSet.compiled(set);
  const target = typeof request?.url === 'string' ? request.url : '';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const canonical = canonicalizePath(rawPath, options);
  if (!canonical.ok || rawQuery.includes('#')) {
    const message = canonical.ok ? 'the request target contains `#`' : canonical.message;
    return new RestrictionDecision(false, undefined, 'ambiguous_path', () => `denied: ambiguous request path: ${message}`);
  }
  const rules = compiled.rules;
  if (rules.length === 0) {
    return new RestrictionDecision(true, undefined, undefined, () => 'allowed: the token has no restrictions');
  }
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : String(request.method);
  const subject: Subject = {
    method,
    bit: methodBit(method),
    path: canonical.path,
    rawQuery,
    contentType: request.contentType,
    body: request.body,
    caseSensitive: options.caseSensitive === true,
    query: undefined,
  };
  const haystack = subject.caseSensitive ? subject.path : asciiLowerCase(subject.path);
  const index = compiled.index(subject.caseSensitive);
  compiled.begin();
  if (index === undefined) {
    for (const rule of rules) if (ruleHolds(compiled, rule, subject, haystack)) return allowed(rule);
  } else {
    for (const i of index.candidates(haystack)) if (ruleHolds(compiled, rules[i]!, subject, haystack)) return allowed(rules[i]!);
  }
  const reason: DenialReason = compiled.hasQuery && failedOnAmbiguousQuery(compiled, subject, haystack) ? 'ambiguous_query' : 'no_rule_matched';
  return new RestrictionDecision(false, undefined, reason, () => explainDenial(rules, subject));
}

/**
 * The guard's question, without allocating: the line of the first rule that allows the request, 0 for a set
 * without rules, or -1 when the request is denied for any reason (`evaluateRestrictions` then says why).
 * Always the decision `evaluateRestrictions` makes. `method` is upper-case. A decision that depended on
 * method, path and case mode alone is remembered on the compiled set, for the next call with the same ones.
 */
export function allowingLine(set: RestrictionSet, method: string, target: string, contentType: string | undefined, body: unknown, options: EvaluateOptions): number {
  const compiled = RestrictionSet.compiled(set);
  const q = target.indexOf('?');
  const canonical = canonicalizePath(q < 0 ? target : target.slice(0, q), options);
  if (!canonical.ok || (q >= 0 && target.includes('#', q))) return -1;
  const rules = compiled.rules;
  if (rules.length === 0) return 0;
  const bit = methodBit(method);
  const caseSensitive = options.caseSensitive === true;
  const path = canonical.path;
  if (compiled.memoPath === path && compiled.memoBit === bit && compiled.memoCaseSensitive === caseSensitive) return compiled.memoLine;
  const haystack = caseSensitive ? path : asciiLowerCase(path);
  const index = compiled.index(caseSensitive);
  compiled.begin();
  let subject: Subject | undefined;
  let line = -1;
  let pure = true;
  const count = index === undefined ? rules.length : 0;
  const candidates = index === undefined ? undefined : index.candidates(haystack);
  for (let k = 0, n = candidates === undefined ? count : candidates.length; k < n; k++) {
    const rule = rules[candidates === undefined ? k : candidates[k]!]!;
    if ((rule.mask & bit) === 0 || !compiled.urlMatches(rule, path, haystack, caseSensitive)) continue;
    if (rule.query.length > 0 || rule.json.length > 0) {
      pure = false;
      subject ??= { method, bit, path, rawQuery: q < 0 ? '' : target.slice(q + 1), contentType, body, caseSensitive, query: undefined };
      if (!constraintsHold(rule, subject)) continue;
    }
    line = rule.line;
    break;
  }
  if (pure) {
    compiled.memoPath = path;
    compiled.memoBit = bit;
    compiled.memoCaseSensitive = caseSensitive;
    compiled.memoLine = line;
  }
  return line;
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

function allowed(rule: CompiledRule): Decision {
  return new RestrictionDecision(true, rule.line, undefined, () => `allowed by line ${rule.line}: ${formatRule(rule.rule)}`);
}

/**
 * Whether a rule with a JsonData constraint could decide this request once its body is known: the rule's
 * method list admits `request.method` and its URL matches the path. The guard reads an unparsed body
 * only then. False for an ambiguous path (that request is denied whatever its body).
 */
export function needsJsonBody(set: RestrictionSet, request: Pick<RestrictionRequest, 'method' | 'url'>, options: EvaluateOptions = {}): boolean {
  const compiled = RestrictionSet.compiled(set);
  if (!compiled.hasJson) return false;
  const target = typeof request?.url === 'string' ? request.url : '';
  const q = target.indexOf('?');
  const canonical = canonicalizePath(q < 0 ? target : target.slice(0, q), options);
  if (!canonical.ok) return false;
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : String(request.method);
  const bit = methodBit(method);
  const caseSensitive = options.caseSensitive === true;
  const haystack = caseSensitive ? canonical.path : asciiLowerCase(canonical.path);
  compiled.begin();
  return compiled.rules.some((rule) => rule.json.length > 0 && (rule.mask & bit) !== 0 && compiled.urlMatches(rule, canonical.path, haystack, caseSensitive));
}
