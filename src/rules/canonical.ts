// Canonicalizes what a rule is matched against: the request path, the query string, the content type (SPEC §3).
import { parse as parseContentType } from 'content-type';

/** Caps of SPEC §3.8, in bytes of the raw (still encoded) text. */
export const MAX_PATH_BYTES = 8192;
export const MAX_QUERY_BYTES = 8192;
export const MAX_VALUE_BYTES = 4096;
/**
 * The most `&`-separated parts a query may have. Express's query parsers (qs's `parameterLimit`, Node's
 * querystring `maxKeys`) read the first 1,000 parts, empty ones included, and drop the rest without a word:
 * a parameter after them would be checked here and never reach the handler.
 */
export const MAX_QUERY_PARTS = 1000;
/** The values one `*` JSON path reaches are examined up to this many bytes of scalar text in total (the query-string cap). */
export const MAX_ARRAY_TEXT_BYTES = 8192;
/** The most values one `*` JSON path may reach. */
export const MAX_EVERY_VALUES = 1024;

/** The outcome of {@link canonicalizePath}. */
export type CanonicalPath = { ok: true; path: string } | { ok: false; reason: 'ambiguous_path'; message: string };

/** Characters that may never appear raw in a path: `\`, `;`, `#`, controls, DEL and anything non-ASCII. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RAW = /[\\;#\u0000-\u001f\u007f-\uffff]/;
/** Escapes of `/ \ ; % .`, of ASCII controls and DEL. */
const FORBIDDEN_ESCAPE = /%(?:2[fFeE5]|5[cC]|3[bB]|[01][0-9a-fA-F]|7[fF])/;
/** C1 controls after decoding (U+0080–U+009F), and the noncharacter U+FFFF (which the case-insensitive URL regexes leave out of "any character"). */
const C1_CONTROL = /[\u0080-\u009f\uffff]/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;
/** One pass that finds anything the detailed checks below would look at; most paths match none of it. */
// eslint-disable-next-line no-control-regex
const SUSPICIOUS = /[\\;#%\u0000-\u001f\u007f-\uffff]|\/\/|\/\.\.?(?:\/|$)/;

const reject = (message: string): CanonicalPath => ({ ok: false, reason: 'ambiguous_path', message });

/**
 * Validates and decodes the path part of a request target (SPEC §3.1), then drops one trailing `/`
 * unless `strict` (§3.2; the root `/` stays). Case is left alone: the matcher handles it.
 *
 * @example canonicalizePath('/rest/%61pi/2/') // { ok: true, path: '/rest/api/2' }
 * @example canonicalizePath('/rest/..%2Fadmin') // { ok: false, reason: 'ambiguous_path', … }
 */
export function canonicalizePath(rawPath: string, options: { strict?: boolean } = {}): CanonicalPath {
  // The guard and the evaluator canonicalize the same path one after the other: remember the last one.
  const strict = options.strict === true;
  if (rawPath === lastRaw && strict === lastStrict) return lastResult!;
  // Frozen: the same object may be handed to the next caller.
  const result = Object.freeze(canonicalize(rawPath, strict));
  lastRaw = rawPath;
  lastStrict = strict;
  lastResult = result;
  return result;
}

let lastRaw: string | undefined;
let lastStrict = false;
let lastResult: CanonicalPath | undefined;

function canonicalize(rawPath: string, strict: boolean): CanonicalPath {
  if (rawPath.length > MAX_PATH_BYTES) return reject(`the path is longer than ${MAX_PATH_BYTES} bytes`);
  if (rawPath.charCodeAt(0) !== 0x2f) return reject('the path does not start with `/`');
  const path = SUSPICIOUS.test(rawPath) ? checkAndDecode(rawPath) : rawPath;
  if (typeof path !== 'string') return path;
  return { ok: true, path: !strict && path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f ? path.slice(0, -1) : path };
}

/** The slow path of {@link canonicalizePath}: says what is wrong, or decodes. */
function checkAndDecode(rawPath: string): string | CanonicalPath {
  const raw = FORBIDDEN_RAW.exec(rawPath);
  if (raw) return reject(`the path contains a forbidden character (U+${raw[0].charCodeAt(0).toString(16).padStart(4, '0')})`);
  if (rawPath.includes('//')) return reject('the path contains `//`');
  if (DOT_SEGMENT.test(rawPath)) return reject('the path contains a `.` or `..` segment');
  if (!rawPath.includes('%')) return rawPath;
  const escape = FORBIDDEN_ESCAPE.exec(rawPath);
  if (escape) return reject(`the path encodes a forbidden character (${escape[0]})`);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return reject('the path has an invalid or non-UTF-8 percent-escape');
  }
  if (C1_CONTROL.test(path)) return reject('the path encodes a control character or U+FFFF');
  return path;
}

/** The parsed query string: every value of every name, and the names that also appear in bracket or dot form. */
export interface ParsedQuery {
  /** False when the query cannot be used: then no QueryParam constraint holds. */
  readonly valid: boolean;
  /** Why the query cannot be used, when it cannot. */
  readonly problem?: string;
  /** True when the query cannot be used because an escape is invalid (SPEC §3.5: `ambiguous_query`). */
  readonly ambiguous: boolean;
  /**
   * The decoded values of a parameter, in order; undefined when it is absent. Values are decoded on
   * first use, since most requests only ever look at one or two parameters.
   */
  values(name: string): readonly string[] | undefined;
  /** True when `name[]`, `name[k]` or `name.k` is present (qs folds those into `name`). */
  isFolded(name: string): boolean;
  /** True when a value of `name` is longer than {@link MAX_VALUE_BYTES} raw bytes. */
  isOversized(name: string): boolean;
}

const PLUS = /\+/g;
/** An escape of a non-ASCII byte (which needs UTF-8 validation). */
const HIGH_ESCAPE = /%[89A-Fa-f]/;
const HEX = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

/**
 * Decodes a query part whose escapes are known to be valid: `+` is a space. Escapes of ASCII bytes are
 * decoded here (V8's decodeURIComponent is slow for short strings); UTF-8 sequences go to it.
 */
function decodeQueryPart(part: string): string {
  const percent = part.indexOf('%');
  if (percent < 0 && !part.includes('+')) return part;
  if (percent >= 0 && HIGH_ESCAPE.test(part)) return decodeURIComponent(part.replace(PLUS, ' '));
  // Only ASCII escapes are left: decode them here.
  let out = '';
  let from = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c === 0x2b) {
      out += `${part.slice(from, i)} `;
      from = i + 1;
    } else if (c === 0x25) {
      out += part.slice(from, i) + String.fromCharCode(HEX(part.charCodeAt(i + 1)) * 16 + HEX(part.charCodeAt(i + 2)));
      i += 2;
      from = i + 1;
    }
  }
  return out + part.slice(from);
}

/** A `%` not followed by two hex digits, or an escape that needs UTF-8 validation. */
const NEEDS_VALIDATION = /%(?![0-7][0-9A-Fa-f])/;

/** True when every escape of `raw` is valid percent-encoded UTF-8. */
function escapesAreValid(raw: string): boolean {
  if (!NEEDS_VALIDATION.test(raw)) return true;
  // Escapes never contain `&`, `=` or `+`, so the whole query decodes exactly when every part does.
  try {
    decodeURIComponent(raw);
    return true;
  } catch {
    return false;
  }
}

class Query implements ParsedQuery {
  readonly valid = true;
  readonly ambiguous = false;
  /** Raw values by decoded name. */
  private readonly raw = new Map<string, string[]>();
  /** Decoded values, filled on first use of a name. */
  private decoded: Map<string, readonly string[]> | undefined;
  /** The names with a `[` or a `.`, which qs may fold into a shorter one. */
  private foldable: string[] | undefined;
  private oversized: Set<string> | undefined;

  constructor(raw: string) {
    let start = 0;
    while (start <= raw.length) {
      let end = raw.indexOf('&', start);
      if (end < 0) end = raw.length;
      if (end > start) {
        const eq = raw.indexOf('=', start);
        const hasValue = eq >= 0 && eq < end;
        const name = decodeQueryPart(raw.slice(start, hasValue ? eq : end));
        const value = hasValue ? raw.slice(eq + 1, end) : '';
        if (exceedsBytes(value, MAX_VALUE_BYTES)) (this.oversized ??= new Set()).add(name);
        const list = this.raw.get(name);
        if (list) list.push(value);
        else this.raw.set(name, [value]);
        if (name.includes('[') || name.includes('.')) (this.foldable ??= []).push(name);
      }
      start = end + 1;
    }
  }

  /**
   * Whether a query parser may fold one of the bracket or dot names into `name`. Worked out per name asked
   * about (the constrained ones), not per prefix of every name: a name of 8,000 dots has 8,000 prefixes.
   */
  private folds(name: string): boolean {
    for (const other of this.foldable!) {
      let key = other;
      // qs reads a leading bracket group as the name: `[a]` is `a`, `[a][b]` is `a[b]`, and text after the
      // group that is not a bracket group is dropped (`[a]x` and `[a]]` are `a` too).
      const leading = /^\[([^[\]]+)\]/.exec(other);
      if (leading !== null) {
        key = leading[1]! + other.slice(leading[0].length);
        if (leading[1] === name || key === name) return true;
      }
      // A prefix that ends before a `[` or a `.`: `a.b[c]` folds into `a` and `a.b`.
      if (key.length > name.length && key.startsWith(name)) {
        const c = key.charCodeAt(name.length);
        if (c === 0x5b || c === 0x2e) return true;
      }
    }
    return false;
  }

  values(name: string): readonly string[] | undefined {
    const cached = this.decoded?.get(name);
    if (cached !== undefined) return cached;
    const raw = this.raw.get(name);
    if (raw === undefined) return undefined;
    const decoded = raw.length === 1 ? [decodeQueryPart(raw[0]!)] : raw.map(decodeQueryPart);
    (this.decoded ??= new Map()).set(name, decoded);
    return decoded;
  }

  isFolded(name: string): boolean {
    return this.foldable !== undefined && this.folds(name);
  }

  isOversized(name: string): boolean {
    return this.oversized !== undefined && this.oversized.has(name);
  }
}

const unusable = (problem: string, ambiguous: boolean): ParsedQuery => ({
  valid: false,
  problem,
  ambiguous,
  values: () => undefined,
  isFolded: () => false,
  isOversized: () => false,
});

/** Whether `text` has more than `max` `&`-separated parts. */
function partsOver(text: string, max: number): boolean {
  let parts = 1;
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) if (++parts > max) return true;
  return false;
}

/** Splits and decodes a raw query string (without `?`) per SPEC §3.5. */
export function parseQuery(rawQuery: string): ParsedQuery {
  if (rawQuery.length > MAX_QUERY_BYTES) return unusable(`the query string is longer than ${MAX_QUERY_BYTES} bytes`, false);
  if (!escapesAreValid(rawQuery)) return unusable('the query string has an invalid percent-escape', true);
  if (partsOver(rawQuery, MAX_QUERY_PARTS)) {
    return unusable(`the query string has more than ${MAX_QUERY_PARTS} &-separated parts, and query parsers read only the first ${MAX_QUERY_PARTS}`, true);
  }
  return new Query(rawQuery);
}

/**
 * True for `application/json` and `application/*+json`, ignoring case and parameters (SPEC §3.6), as the
 * `content-type` package reads the header; a header it cannot read is no JSON type (JsonData rules then
 * deny, and body-parser would not parse it either).
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (typeof contentType !== 'string') return false;
  let type: string;
  try {
    type = parseContentType(contentType).type;
  } catch {
    return false;
  }
  return type === 'application/json' || JSON_SUFFIX.test(type);
}
const JSON_SUFFIX = /^application\/[^/]+\+json$/;

/** Byte length of `s` in UTF-8, computed only when it could exceed `cap`. */
export function exceedsBytes(s: string, cap: number): boolean {
  if (s.length > cap) return true;
  return s.length * 3 > cap && Buffer.byteLength(s, 'utf8') > cap;
}
