// The public API of tokenfence.
export { parseRestrictions, RestrictionSet, DEFAULT_MAX_RULES, MAX_LINE_BYTES } from './rules/parse.js';
export { formatRestrictions, formatRule, formatConstraint } from './rules/format.js';
export { lintRestrictions, type LintResult } from './rules/lint.js';
export { evaluateRestrictions } from './rules/evaluate.js';
export { canonicalizePath, type CanonicalPath } from './rules/canonical.js';
export {
  RestrictionSyntaxError,
  type RestrictionDiagnostic,
  type RestrictionErrorCode,
  type RestrictionWarningCode,
} from './rules/errors.js';
export {
  METHODS,
  type Method,
  type Rule,
  type Constraint,
  type QueryParamConstraint,
  type JsonDataConstraint,
  type RestrictionRequest,
  type EvaluateOptions,
  type ParseOptions,
  type Decision,
  type DenialReason,
} from './rules/types.js';
