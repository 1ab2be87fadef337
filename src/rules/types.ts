// The data types of the restriction grammar (SPEC §2, §3): rules, constraints, requests and decisions.

/** The HTTP methods a method list may name (SPEC §2). */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** One of {@link METHODS}. */
export type Method = (typeof METHODS)[number];

/** `[QueryParam::name==regex]`: the query parameter `name` must occur exactly once, and its value full-match `pattern`. */
export interface QueryParamConstraint {
  readonly kind: 'QueryParam';
  /** The literal, case-sensitive parameter name, compared after percent-decoding. */
  readonly name: string;
  /** The regular expression source, as written. */
  readonly pattern: string;
  /** 1-based column of the constraint's `[` in its line. */
  readonly column: number;
}

/**
 * `[JsonData::a.b.0==regex]`: the JSON body value at `path` must full-match `pattern`;
 * `[JsonData::labels.*==regex]`: `labels` must be a non-empty array whose every element matches.
 */
export interface JsonDataConstraint {
  readonly kind: 'JsonData';
  /** The path segments, unescaped (`a\.b.c` is `['a.b', 'c']`; a `*` segment is `'*'`, and so is `\*`). */
  readonly path: readonly string[];
  /** True at each segment written `*` (every element of an array), false elsewhere (`\*` is a key named `*`). */
  readonly everyElement: readonly boolean[];
  /** The regular expression source, as written. */
  readonly pattern: string;
  /** 1-based column of the constraint's `[` in its line. */
  readonly column: number;
}

/** A `[Keyword::…]` constraint of a rule. */
export type Constraint = QueryParamConstraint | JsonDataConstraint;

/** One rule line, parsed. */
export interface Rule {
  /** 1-based line number in the source text (blank and comment lines count). */
  readonly line: number;
  /** The methods the rule admits, upper-case, as written; `null` when the line has no method list. */
  readonly methods: readonly Method[] | null;
  /** The URL regular expression source, as written. */
  readonly url: string;
  /** 1-based column where the URL regex starts. */
  readonly urlColumn: number;
  /** Constraints, in the order written; all must hold. */
  readonly constraints: readonly Constraint[];
}

/**
 * A request as the restriction engine sees it (SPEC §3).
 *
 * @example
 * { method: 'POST', url: '/rest/api/2/issue/KANBAN-100/comment?expand=names',
 *   contentType: 'application/json', body: { body: 'hello' } }
 */
export interface RestrictionRequest {
  /** The HTTP method; compared case-insensitively. */
  method: string;
  /** The request target as received on the wire: path plus optional `?query`, still percent-encoded. */
  url: string;
  /** The `Content-Type` header, if any. */
  contentType?: string | undefined;
  /** The already-parsed JSON body, if any. */
  body?: unknown;
}

/** Options of {@link evaluateRestrictions} (SPEC §3.2, §3.3). */
export interface EvaluateOptions {
  /**
   * Match URL regexes ignoring case (the regex `i` flag, as Express's case-insensitive routing does; a
   * non-ASCII letter folds too, but never onto an ASCII one), as tokenfence did before 0.2. Off, rules match case-sensitively
   * whatever the router does: Express's case-insensitive routing covers route literals, not the values it
   * captures (`/issue/jra-1` reaches `:key` as `jra-1`), and an allow-list can only deny more by being
   * stricter. Value regexes (QueryParam, JsonData) always match case-sensitively.
   * @default false
   */
  caseInsensitive?: boolean | undefined;
  /**
   * Keep a trailing `/` when matching (Express `strict routing`).
   * @default false
   */
  strict?: boolean | undefined;
  /**
   * The context path that a leading `.*` (`.*?`, `.+`) before the literal start of a path stands for, such
   * as `/jira`: `.*\/rest/api/2/filter` then matches `/jira/rest/api/2/filter` and nothing else ending in
   * `/rest/api/2/filter`. Empty, a leading `.*` matches nothing. Write `(?:.*)` for a real wildcard.
   * @default ''
   */
  basePath?: string | undefined;
}

/** Why a request was denied (SPEC §3). */
export type DenialReason = 'ambiguous_path' | 'ambiguous_query' | 'no_rule_matched';

/** The outcome of {@link evaluateRestrictions}. */
export interface Decision {
  /** Whether the request is allowed. */
  readonly allowed: boolean;
  /** The line number of the rule that allowed the request, when one did. */
  readonly line?: number | undefined;
  /** A stable code saying why the request was denied. */
  readonly reason?: DenialReason | undefined;
  /**
   * A human-readable account: which rule allowed the request, or which part of each rule failed.
   * Computed on first access, so the hot path pays nothing for it.
   */
  readonly explanation: string;
}

/** Options of {@link parseRestrictions} and {@link lintRestrictions}. */
export interface ParseOptions {
  /**
   * The most rule lines a restriction text may hold (comments and blank lines do not count).
   * @default 1000
   */
  maxRules?: number | undefined;
  /**
   * The most UTF-8 bytes a whole restriction text may hold. Parsing vets and compiles every regex, and a
   * first case-insensitive or `basePath` evaluation may compile them again, so this bounds what one text
   * can cost before it is accepted (`text_too_long` is reported without vetting anything). A thousand
   * ordinary rules take 60–90 KiB.
   * @default 131072 (128 KiB)
   */
  maxBytes?: number | undefined;
}
