// Formats rules back into canonical restriction text (SPEC §2): upper-case methods, canonical keywords, one rule a line.
import { RestrictionSet } from './parse.js';
import type { Constraint, Rule } from './types.js';

/** Escapes a JSON path segment: `\` and `.` get a backslash, and so does a key that is just `*`. */
const escapeSegment = (segment: string, every: boolean): string => (every ? '*' : segment === '*' ? '\\*' : segment.replace(/[\\.]/g, '\\$&'));

/** Formats one constraint, e.g. `[QueryParam::expand==(names|schema)]`. */
export function formatConstraint(c: Constraint): string {
  const target = c.kind === 'QueryParam' ? c.name : c.path.map((segment, i) => escapeSegment(segment, c.everyElement[i] === true)).join('.');
  return `[${c.kind}::${target}==${c.pattern}]`;
}

/** Formats one rule, e.g. `[GET,POST]/rest/api/2/issue/[A-Z]+-\d+[QueryParam::expand==names]`. */
export function formatRule(rule: Rule): string {
  const methods = rule.methods === null ? '' : `[${rule.methods.join(',')}]`;
  return methods + rule.url + rule.constraints.map(formatConstraint).join('');
}

/**
 * The canonical text of a set: comments and blank lines dropped, one rule per line, `\n` between lines.
 * Parsing the result gives the same rules (only line numbers and columns change).
 *
 * @example formatRestrictions(parseRestrictions('# mine\n[get, post] /x[queryparam::a==1]')) // '[GET,POST]/x[QueryParam::a==1]'
 */
export function formatRestrictions(set: RestrictionSet | readonly Rule[]): string {
  const rules = set instanceof RestrictionSet ? set.rules : set;
  if (!Array.isArray(rules)) throw new TypeError('formatRestrictions expects a RestrictionSet or an array of rules');
  return rules.map(formatRule).join('\n');
}
