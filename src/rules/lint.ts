// Lints restriction text: the errors parsing would throw, plus warnings about valid rules that probably misbehave (SPEC §2).
import type { AST, RegExpParser } from '@eslint-community/regexpp';
import type { DFA } from 'refa';
import { analysisLibs } from './analysis-libs.js';
import { contextRanges, contextSource, literalWordsOnly } from './compile.js';
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

let parser: RegExpParser | undefined;
const FLAGS = { dotAll: true, ignoreCase: false } as const;
/** Language-inclusion checks give up (and stay silent) past this many automaton states. */
const MAX_NODES = 2000;
/** Above this many rules, shadowing is only checked for identical URL regexes (the check is quadratic). */
const MAX_RULES_FOR_AUTOMATA = 200;

function parsePattern(source: string): AST.Pattern | null {
  parser ??= new (analysisLibs().regexpp.RegExpParser)({ ecmaVersion: 2025 });
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

const JSON_WORDS = ['true', 'false', 'null'] as const;

/** An example path that a context-path rule does not match: its text after the leading `.*`, behind `/anything`. */
function anywhere(url: string): string {
  const rest = url.replace(/^\.[*+]\??/, '');
  return rest.startsWith('/') ? `/anything${rest}` : `/anything/${rest}`;
}

/** Whether a URL regex begins with an unbounded repetition that can match `/`: it matches any prefix. */
function anyPrefix(url: AST.Pattern): boolean {
  const { toCharSet } = analysisLibs().rea;
  return url.alternatives.some((alt) => {
    let first = alt.elements.find((el) => !(el.type === 'Assertion' && el.kind === 'start'));
    while ((first?.type === 'Group' || first?.type === 'CapturingGroup') && first.alternatives.length === 1 && first.alternatives[0]!.elements.length === 1) {
      first = first.alternatives[0]!.elements[0];
    }
    if (first?.type !== 'Quantifier' || first.max !== Infinity) return false;
    const element = first.element;
    if (element.type !== 'CharacterSet' && element.type !== 'CharacterClass') return false;
    try {
      return toCharSet(element as Parameters<typeof toCharSet>[0], FLAGS).has(0x2f);
    } catch {
      return false;
    }
  });
}

/** A DFA of the full-match language of a URL regex (a leading `.*` read as the empty context path), or null when it cannot be built cheaply. */
function urlAutomaton(raw: string): DFA | null {
  const source = contextSource({ source: raw, context: contextRanges(raw) }, '');
  const { DFA, JS, NFA } = analysisLibs().refa;
  try {
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source, flags: 's' }, { ecmaVersion: 2025 }).parse({
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
  const { DFA, isDisjointWith } = analysisLibs().refa;
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
    const first = analysisLibs().rea.getFirstConsumedChar(url.alternatives, 'ltr', FLAGS);
    if (!first.empty && !first.char.has(0x2f)) {
      warn(rule.urlColumn, 'unmatchable_url', `the URL regex cannot match a path: paths start with \`/\`; write \`/${rule.url}\` or \`.*/${rule.url}\``);
    }
    if (hasNegativeLookaround(url)) {
      warn(rule.urlColumn, 'denylist_pattern', 'a negative lookaround makes a denylist; tokens are safer with rules that list what is allowed');
    }
    if (contextRanges(rule.url).length > 0) {
      warn(
        rule.urlColumn,
        'context_path',
        'the leading `.*` stands for the context path only (nothing, or the guard\'s basePath such as /jira), never for other segments: ' +
          `it does not match ${anywhere(rule.url)}; write (?:.*) for any prefix`,
      );
    } else if (anyPrefix(url)) {
      warn(rule.urlColumn, 'leading_wildcard', 'the leading wildcard matches any prefix (such as /anything/…): a token could reach paths you did not mean; start the rule at the path');
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
    const pattern = parsePattern(c.pattern);
    if (pattern && hasNegativeLookaround(pattern)) {
      warn(c.column, 'denylist_pattern', 'a negative lookaround makes a denylist; list the allowed values instead');
    }
    if (c.kind === 'JsonData' && pattern) {
      const re = new RegExp(`^(?:${c.pattern})$`, 's');
      const words = JSON_WORDS.filter((w) => re.test(w));
      if (words.length > 0 && !literalWordsOnly(c.pattern, re)) {
        warn(
          c.column,
          'mixed_json_literal',
          `the regex matches ${words.join(', ')} and other text, so the JSON string ${JSON.stringify(words[0])} satisfies it as well as the literal ${words[0]}; ` +
            `a regex that matches only true, false or null means the JSON literal (write ${words[0]} alone in a rule of its own)`,
        );
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
