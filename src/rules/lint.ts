// Lints restriction text: the errors parsing would throw, plus warnings about valid rules that probably misbehave (SPEC §2).
import { RegExpParser, type AST } from '@eslint-community/regexpp';
import { DFA, JS, NFA, isDisjointWith } from 'refa';
import { getFirstConsumedChar } from 'regexp-ast-analysis';
import type { RestrictionDiagnostic, RestrictionErrorCode, RestrictionWarningCode } from './errors.js';
import { formatConstraint } from './format.js';
import { analyseRestrictions } from './parse.js';
import type { ScannedRule } from './parse-line.js';
import type { Method, ParseOptions, Rule } from './types.js';

/** What {@link lintRestrictions} found. */
export interface LintResult {
  /** True when there are no errors (warnings allowed). */
  readonly ok: boolean;
  readonly errors: readonly RestrictionDiagnostic<RestrictionErrorCode>[];
  readonly warnings: readonly RestrictionDiagnostic<RestrictionWarningCode>[];
}

type Warning = RestrictionDiagnostic<RestrictionWarningCode>;

const parser = new RegExpParser({ ecmaVersion: 2025 });
const FLAGS = { dotAll: true, ignoreCase: true } as const;
/** Language-inclusion checks give up (and stay silent) past this many automaton states. */
const MAX_NODES = 2000;
/** Above this many rules, shadowing is only checked for identical URL regexes (the check is quadratic). */
const MAX_RULES_FOR_AUTOMATA = 200;

function parsePattern(source: string): AST.Pattern | null {
  try {
    return parser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return null;
  }
}

function hasNegativeLookaround(pattern: AST.Pattern): boolean {
  const visit = (node: AST.Node): boolean => {
    switch (node.type) {
      case 'Assertion':
        return (node.kind === 'lookahead' || node.kind === 'lookbehind') && (node.negate || node.alternatives.some(visit));
      case 'Quantifier':
        return visit(node.element);
      case 'Alternative':
        return node.elements.some(visit);
      case 'Group':
      case 'CapturingGroup':
      case 'Pattern':
        return node.alternatives.some(visit);
      default:
        return false;
    }
  };
  return visit(pattern);
}

/** A DFA of the full-match language of a URL regex, or null when it cannot be built cheaply. */
function urlAutomaton(source: string): DFA | null {
  try {
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source, flags: 'si' }, { ecmaVersion: 2025 }).parse({
      maxNodes: MAX_NODES,
    });
    return DFA.fromFA(NFA.fromRegex(expression, { maxCharacter }, {}), new DFA.LimitedNodeFactory(MAX_NODES));
  } catch {
    return null;
  }
}

/** True when every path `later` matches is also matched by `earlier`. */
function urlIncludes(earlier: string, later: string, automata: Map<string, DFA | null> | null): boolean {
  if (earlier === later) return true;
  if (automata === null) return false;
  const get = (source: string): DFA | null => {
    if (!automata.has(source)) automata.set(source, urlAutomaton(source));
    return automata.get(source)!;
  };
  const a = get(earlier);
  const b = get(later);
  if (a === null || b === null) return false;
  try {
    const notA = a.copy(new DFA.LimitedNodeFactory(MAX_NODES));
    notA.complement();
    return isDisjointWith(b, notA, MAX_NODES);
  } catch {
    return false;
  }
}

const METHOD_CLOSURE = (methods: readonly Method[] | null): Set<string> | null =>
  methods === null ? null : new Set(methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])));

function methodsInclude(earlier: readonly Method[] | null, later: readonly Method[] | null): boolean {
  const a = METHOD_CLOSURE(earlier);
  const b = METHOD_CLOSURE(later);
  if (a === null) return true;
  if (b === null) return false;
  return [...b].every((m) => a.has(m));
}

function ruleWarnings(rule: Rule, scanned: ScannedRule): Warning[] {
  const warnings: Warning[] = [];
  const warn = (column: number, code: RestrictionWarningCode, message: string): void => {
    warnings.push({ line: rule.line, column, code, message });
  };
  const seen = new Set<string>();
  rule.methods?.forEach((m, k) => {
    if (seen.has(m)) warn(scanned.methodColumns[k]!, 'duplicate_method', `method ${m} is listed twice`);
    seen.add(m);
  });
  const url = parsePattern(rule.url);
  if (url) {
    const first = getFirstConsumedChar(url.alternatives, 'ltr', FLAGS);
    if (!first.empty && !first.char.has(0x2f)) {
      warn(rule.urlColumn, 'unmatchable_url', `the URL regex cannot match a path: paths start with \`/\`; write \`/${rule.url}\` or \`.*/${rule.url}\``);
    }
    if (hasNegativeLookaround(url)) {
      warn(rule.urlColumn, 'denylist_pattern', 'a negative lookaround makes a denylist; tokens are safer with rules that list what is allowed');
    }
    const [a, b] = url.alternatives.length === 1 ? url.alternatives[0]!.elements : [];
    if (a?.type === 'Quantifier' && a.max === Infinity && a.element.type === 'CharacterSet' && a.element.kind === 'any' && b?.type === 'Character' && b.value === 0x2f) {
      warn(
        rule.urlColumn,
        'leading_wildcard',
        `the leading \`${a.raw}\` also matches any prefix (such as /anything${rule.url.slice(a.raw.length)}); start the rule at the path, or at your context path`,
      );
    }
    const last = url.alternatives.length === 1 ? url.alternatives[0]!.elements.at(-1) : undefined;
    if (last?.type === 'Character' && last.value === 0x2f && rule.url.length > 1) {
      warn(rule.urlColumn + rule.url.length - 1, 'trailing_slash', 'one trailing `/` is dropped from the path before matching (unless strict routing is on), so this rule never matches; remove it');
    }
    if (/(^|[^\\])(\\\\)*\\\?/.test(rule.url)) {
      warn(rule.urlColumn, 'query_in_url', 'the URL regex is matched against the path only, never the query string; use [QueryParam::name==value]');
    }
  }
  if (/[ \t]$/.test(rule.url)) {
    warn(rule.urlColumn + rule.url.length - 1, 'url_trailing_whitespace', 'the URL regex ends with white space, which paths rarely contain; remove it before the `[`');
  }
  const targets = new Map<string, string>();
  for (const c of rule.constraints) {
    if (c.kind === 'JsonData' || c.kind === 'QueryParam') {
      const pattern = parsePattern(c.pattern);
      if (pattern && hasNegativeLookaround(pattern)) {
        warn(c.column, 'denylist_pattern', 'a negative lookaround makes a denylist; list the allowed values instead');
      }
    }
    const key = c.kind === 'QueryParam' ? `Q:${c.name}` : `J:${JSON.stringify(c.path)}`;
    const previous = targets.get(key);
    if (previous !== undefined) {
      const same = previous === c.pattern;
      warn(c.column, 'duplicate_constraint', same ? `${formatConstraint(c)} is repeated` : `${formatConstraint(c)} constrains the same value as an earlier constraint; both must hold`);
    }
    targets.set(key, c.pattern);
  }
  return warnings;
}

/**
 * Parses and lints restriction text without throwing: every error `parseRestrictions` would throw,
 * plus warnings. This is what editors and the `/validate` endpoint use.
 *
 * @example lintRestrictions('rest/api/2/issue/.*').warnings[0].code // 'unmatchable_url'
 */
export function lintRestrictions(text: string, options: ParseOptions = {}): LintResult {
  const { rules, scanned, errors } = analyseRestrictions(text, options);
  const warnings: Warning[] = [];
  const automata = rules.length <= MAX_RULES_FOR_AUTOMATA ? new Map<string, DFA | null>() : null;
  rules.forEach((rule, j) => {
    warnings.push(...ruleWarnings(rule, scanned[j]!));
    const constraintKeys = new Set(rule.constraints.map(formatConstraint));
    for (let i = 0; i < j; i++) {
      const earlier = rules[i]!;
      if (
        methodsInclude(earlier.methods, rule.methods) &&
        earlier.constraints.every((c) => constraintKeys.has(formatConstraint(c))) &&
        urlIncludes(earlier.url, rule.url, automata)
      ) {
        warnings.push({
          line: rule.line,
          column: 1,
          code: 'shadowed_rule',
          message: `every request this rule allows is already allowed by line ${earlier.line}, so it never decides anything`,
        });
        break;
      }
    }
  });
  warnings.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: errors.length === 0, errors, warnings };
}
