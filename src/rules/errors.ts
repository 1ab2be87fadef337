// Coded diagnostics of the restriction grammar and the error that carries them (SPEC §2).

/** Codes of errors that make a restriction text invalid. Stable: documented in the README. */
export type RestrictionErrorCode =
  | 'unknown_method'
  | 'empty_url'
  | 'unclosed_bracket'
  | 'unknown_constraint'
  | 'trailing_text'
  | 'missing_operator'
  | 'empty_name'
  | 'invalid_name'
  | 'invalid_path'
  | 'invalid_regex'
  | 'unsafe_regex'
  | 'control_character'
  | 'line_too_long'
  | 'too_many_rules'
  | 'text_too_long';

/** Codes of lint warnings: the text is valid but probably not what its author meant. */
export type RestrictionWarningCode =
  | 'unmatchable_url'
  | 'denylist_pattern'
  | 'shadowed_rule'
  | 'leading_wildcard'
  | 'context_path'
  | 'mixed_json_literal'
  | 'duplicate_constraint'
  | 'duplicate_method'
  | 'url_trailing_whitespace'
  | 'trailing_slash'
  | 'query_in_url';

/** One problem found in a restriction text. Lines and columns are 1-based; columns count UTF-16 units. */
export interface RestrictionDiagnostic<C extends string = RestrictionErrorCode | RestrictionWarningCode> {
  readonly line: number;
  readonly column: number;
  readonly code: C;
  readonly message: string;
}

/**
 * Thrown by `parseRestrictions` when the text has errors. `errors` holds every error of every line
 * (at least one for each faulty line), in line order.
 *
 * @example
 * try { parseRestrictions(text) } catch (err) {
 *   if (err instanceof RestrictionSyntaxError) for (const e of err.errors) console.log(e.line, e.code)
 * }
 */
export class RestrictionSyntaxError extends Error {
  /** Always `'restriction_syntax'`, so that `switch (err.code)` can tell it from other errors. */
  readonly code = 'restriction_syntax' as const;
  /** The errors, in line order. */
  readonly errors: readonly RestrictionDiagnostic<RestrictionErrorCode>[];

  constructor(errors: readonly RestrictionDiagnostic<RestrictionErrorCode>[]) {
    const first = errors[0];
    const summary = first ? `line ${first.line}, column ${first.column}: ${first.message}` : 'invalid restrictions';
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super(`Invalid restrictions: ${summary}${more}`);
    this.name = 'RestrictionSyntaxError';
    this.errors = Object.freeze([...errors]);
  }
}
