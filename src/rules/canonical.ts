// Canonicalizes what a rule is matched against: the request path, the query string, the content type (SPEC §3).

/** Caps of SPEC §3.8, in bytes of the raw (still encoded) text. */
export const MAX_PATH_BYTES = 8192;
export const MAX_QUERY_BYTES = 8192;
export const MAX_VALUE_BYTES = 4096;
/** JSON arrays are examined up to this many bytes of scalar text in total (the query-string cap). */
export const MAX_ARRAY_TEXT_BYTES = 8192;

/** The outcome of {@link canonicalizePath}. */
export type CanonicalPath = { ok: true; path: string } | { ok: false; reason: 'ambiguous_path'; message: string };

/** Characters that may never appear raw in a path: `\`, `;`, `#`, controls, DEL and anything non-ASCII. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RAW = /[\\;#\u0000-\u001f\u007f-\uffff]/;
/** Escapes of `/ \ ; % .`, of ASCII controls and DEL. */
const FORBIDDEN_ESCAPE = /%(?:2[fFeE5]|5[cC]|3[bB]|[01][0-9a-fA-F]|7[fF])/;
/** C1 controls after decoding (U+0080–U+009F). */
const C1_CONTROL = /[\u0080-\u009f]/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

const reject = (message: string): CanonicalPath => ({ ok: false, reason: 'ambiguous_path', message });

/**
 * Validates and decodes the path part of a request target (SPEC §3.1), then drops one trailing `/`
 * unless `strict` (§3.2; the root `/` stays). Case is left alone: the matcher handles it.
 *
 * @example canonicalizePath('/rest/%61pi/2/') // { ok: true, path: '/rest/api/2' }
 * @example canonicalizePath('/rest/..%2Fadmin') // { ok: false, reason: 'ambiguous_path', … }
 */
export function canonicalizePath(rawPath: string, options: { strict?: boolean } = {}): CanonicalPath {
  if (rawPath.length > MAX_PATH_BYTES) return reject(`the path is longer than ${MAX_PATH_BYTES} bytes`);
  if (rawPath.charCodeAt(0) !== 0x2f) return reject('the path does not start with `/`');
  const raw = FORBIDDEN_RAW.exec(rawPath);
  if (raw) return reject(`the path contains a forbidden character (U+${raw[0].charCodeAt(0).toString(16).padStart(4, '0')})`);
  if (rawPath.includes('//')) return reject('the path contains `//`');
  if (DOT_SEGMENT.test(rawPath)) return reject('the path contains a `.` or `..` segment');
  let path = rawPath;
  if (rawPath.includes('%')) {
    const escape = FORBIDDEN_ESCAPE.exec(rawPath);
    if (escape) return reject(`the path encodes a forbidden character (${escape[0]})`);
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return reject('the path has an invalid or non-UTF-8 percent-escape');
    }
    if (C1_CONTROL.test(path)) return reject('the path encodes a control character');
  }
  if (!options.strict && path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f) path = path.slice(0, -1);
  return { ok: true, path };
}

/** The parsed query string: every value of every name, and the names that also appear in bracket or dot form. */
export interface ParsedQuery {
  /** False when an escape anywhere in the query is invalid: then no QueryParam constraint holds. */
  readonly valid: boolean;
  /** Why the query cannot be used, when it cannot. */
  readonly problem?: string;
  /** True when the query cannot be used because an escape is invalid (SPEC §3.5: `ambiguous_query`). */
  readonly ambiguous: boolean;
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** Base names `x` of parameters written `x[]`, `x[k]` or `x.k` (qs folds those into `x`). */
  readonly folded: ReadonlySet<string>;
  /** Names with a value longer than {@link MAX_VALUE_BYTES} raw bytes. */
  readonly oversized: ReadonlySet<string>;
}

const unusable = (problem: string, ambiguous: boolean): ParsedQuery => ({
  valid: false,
  problem,
  ambiguous,
  values: new Map(),
  folded: new Set(),
  oversized: new Set(),
});
const EMPTY_QUERY: ParsedQuery = { valid: true, ambiguous: false, values: new Map(), folded: new Set(), oversized: new Set() };

function decodeQueryPart(part: string): string {
  const spaced = part.includes('+') ? part.replace(/\+/g, ' ') : part;
  return spaced.includes('%') ? decodeURIComponent(spaced) : spaced;
}

/** Splits and decodes a raw query string (without `?`) per SPEC §3.5. */
export function parseQuery(rawQuery: string): ParsedQuery {
  if (rawQuery === '') return EMPTY_QUERY;
  if (rawQuery.length > MAX_QUERY_BYTES) {
    return unusable(`the query string is longer than ${MAX_QUERY_BYTES} bytes`, false);
  }
  const values = new Map<string, string[]>();
  const folded = new Set<string>();
  const oversized = new Set<string>();
  try {
    for (const pair of rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decodeQueryPart(pair.slice(eq + 1));
      if (pair.length - eq - 1 > MAX_VALUE_BYTES && eq >= 0) oversized.add(name);
      const list = values.get(name);
      if (list) list.push(value);
      else values.set(name, [value]);
      // Register every prefix that ends before a `[` or a `.`: `a.b[c]` folds into `a` and `a.b`.
      for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        if (c === 0x5b || c === 0x2e) folded.add(name.slice(0, i));
      }
    }
  } catch {
    return unusable('the query string has an invalid percent-escape', true);
  }
  return { valid: true, ambiguous: false, values, folded, oversized };
}

/** True for `application/json` and `application/*+json`, ignoring case and parameters (SPEC §3.6). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (typeof contentType !== 'string') return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/json') return true;
  return type.startsWith('application/') && type.endsWith('+json') && type.length > 'application/+json'.length && !/[\s/]/.test(type.slice(12, -5));
}

/** Byte length of `s` in UTF-8, computed only when it could exceed `cap`. */
export function exceedsBytes(s: string, cap: number): boolean {
  if (s.length > cap) return true;
  return s.length * 3 > cap && Buffer.byteLength(s, 'utf8') > cap;
}
