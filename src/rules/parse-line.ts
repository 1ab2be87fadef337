// The scanner for one restriction line: method list, URL regex and constraints, as written (SPEC §2).
import type { RestrictionDiagnostic, RestrictionErrorCode } from './errors.js';
import { METHODS, type Constraint, type Method } from './types.js';

/** A rule line, scanned but not yet compiled: regexes are still source text. */
export interface ScannedRule {
  methods: Method[] | null;
  /** Columns (1-based) of each method name, for lints. */
  methodColumns: number[];
  url: string;
  urlColumn: number;
  constraints: Constraint[];
  /** 1-based column where each constraint's regex starts. */
  patternColumns: number[];
}

/** What scanning one line produced: nothing (blank or comment), a rule, or errors. */
export type ScanResult =
  | { kind: 'skip' }
  | { kind: 'rule'; rule: ScannedRule }
  | { kind: 'error'; errors: RestrictionDiagnostic<RestrictionErrorCode>[] };

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
const KEYWORDS: Readonly<Record<string, Constraint['kind']>> = { queryparam: 'QueryParam', jsondata: 'JsonData' };

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';
const isIdentStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isIdentPart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/** Characters that end a QueryParam name or a JsonData path segment list. */
const isNameStop = (c: string): boolean => c === '=' || c === '[' || c === ']' || isSpace(c);

/** A raw control character (other than tab) in rule text is always a mistake. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

class LineError extends Error {
  constructor(readonly code: RestrictionErrorCode, readonly index: number, message: string) {
    super(message);
  }
}

/**
 * If `text[at]` is `[` followed by an identifier and `::`, returns the identifier's end index (the
 * first `:`); otherwise -1. This is how a constraint is told from a character class.
 */
export function constraintKeywordEnd(text: string, at: number): number {
  if (text[at] !== '[' || !isIdentStart(text[at + 1])) return -1;
  let i = at + 2;
  while (isIdentPart(text[i])) i++;
  return text[i] === ':' && text[i + 1] === ':' ? i : -1;
}

/**
 * Scans a regex starting at `from`, honouring `\` escapes and `[...]` classes. Stops at the first
 * top-level character for which `stop(i)` is true, or at the end. Throws on an unclosed class.
 */
function scanRegex(text: string, from: number, stop: (i: number) => boolean): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (stop(i)) return i;
    if (c === '[') {
      const open = i;
      i++;
      // In JavaScript (without the u/v flags) the first unescaped `]` closes the class, even `[]`.
      while (i < text.length && text[i] !== ']') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) throw new LineError('unclosed_bracket', open, 'character class `[` is never closed with `]`');
    }
    i++;
  }
  return Math.min(i, text.length);
}

function scanMethods(text: string, open: number, methods: Method[], columns: number[]): number {
  const close = text.indexOf(']', open);
  if (close < 0) throw new LineError('unclosed_bracket', open, 'method list `[` is never closed with `]`');
  let start = open + 1;
  for (const part of text.slice(open + 1, close).split(',')) {
    const name = part.trim();
    const column = start + part.length - part.trimStart().length;
    if (name === '') throw new LineError('unknown_method', column, 'empty method name in the method list');
    const upper = name.toUpperCase();
    if (!KNOWN_METHODS.has(upper)) {
      throw new LineError('unknown_method', column, `unknown method \`${name}\`; use ${METHODS.join(', ')}`);
    }
    methods.push(upper as Method);
    columns.push(column + 1);
    start += part.length + 1;
  }
  return close + 1;
}

/** Reads a QueryParam name or JsonData path up to `==`; returns the raw text and where the regex starts. */
function scanName(text: string, from: number, kind: Constraint['kind']): { raw: string; regexStart: number } {
  let i = from;
  while (i < text.length && !isNameStop(text[i]!)) i += text[i] === '\\' && kind === 'JsonData' ? 2 : 1;
  const raw = text.slice(from, Math.min(i, text.length));
  const what = kind === 'QueryParam' ? 'parameter name' : 'JSON path';
  if (text[i] === '=' && text[i + 1] === '=') {
    if (raw === '') throw new LineError('empty_name', from, `empty ${what} before \`==\``);
    return { raw, regexStart: i + 2 };
  }
  if (i < text.length && isSpace(text[i])) {
    throw new LineError('invalid_name', i, `white space is not allowed in a ${what}`);
  }
  if (text[i] === '[') throw new LineError('invalid_name', i, `\`[\` is not allowed in a ${what}`);
  if (raw === '' && text[i] !== '=') throw new LineError('empty_name', from, `empty ${what}`);
  throw new LineError('missing_operator', Math.min(i, text.length), `expected \`==\` after the ${what} \`${raw}\``);
}

/**
 * Splits a JsonData path on unescaped dots; `\.` is a literal dot, `\\` a backslash and `\*` a literal
 * star. A segment that is exactly an unescaped `*` stands for every element of an array.
 */
function splitJsonPath(raw: string, column: number): { path: string[]; everyElement: boolean[] } {
  const path: string[] = [];
  const everyElement: boolean[] = [];
  let current = '';
  let escaped = false;
  const end = (at: number, last: boolean): void => {
    if (current === '') throw new LineError('empty_name', column + at, last ? 'empty segment at the end of the JSON path' : 'empty segment in the JSON path');
    path.push(current);
    everyElement.push(current === '*' && !escaped);
    current = '';
    escaped = false;
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next !== '.' && next !== '\\' && next !== '*') {
        throw new LineError('invalid_path', column + i, 'in a JSON path only `\\.` (a literal dot), `\\*` (a literal star) and `\\\\` may be escaped');
      }
      current += next;
      escaped = true;
      i++;
    } else if (c === '.') {
      end(i, false);
    } else {
      current += c;
    }
  }
  end(raw.length, true);
  return { path, everyElement };
}

function scanConstraint(text: string, open: number, keywordEnd: number): { constraint: Constraint; end: number; patternColumn: number } {
  const keyword = text.slice(open + 1, keywordEnd);
  const kind = KEYWORDS[keyword.toLowerCase()];
  if (kind === undefined) {
    throw new LineError(
      'unknown_constraint',
      open + 1,
      `unknown constraint \`${keyword}\`; use QueryParam or JsonData (write \`\\[\` for a literal bracket)`,
    );
  }
  const nameStart = keywordEnd + 2;
  const { raw, regexStart } = scanName(text, nameStart, kind);
  const close = scanRegex(text, regexStart, (i) => text[i] === ']');
  if (close >= text.length) throw new LineError('unclosed_bracket', open, `\`[${keyword}::\` is never closed with \`]\``);
  const pattern = text.slice(regexStart, close);
  const column = open + 1;
  const constraint: Constraint =
    kind === 'QueryParam'
      ? { kind, name: raw, pattern, column }
      : { kind, ...splitJsonPath(raw, nameStart), pattern, column };
  return { constraint, end: close + 1, patternColumn: regexStart + 1 };
}

/** Scans one line (without its line terminator). Never throws. */
export function scanLine(text: string, line: number, maxLineBytes: number): ScanResult {
  const error = (code: RestrictionErrorCode, index: number, message: string): ScanResult => ({
    kind: 'error',
    errors: [{ line, column: index + 1, code, message }],
  });
  if (text.length > maxLineBytes / 3 && Buffer.byteLength(text, 'utf8') > maxLineBytes) {
    return error('line_too_long', maxLineBytes, `line is longer than ${maxLineBytes} bytes`);
  }
  const control = CONTROL.exec(text);
  if (control) {
    const hex = control[0].charCodeAt(0).toString(16).padStart(4, '0');
    return error('control_character', control.index, `control character U+${hex} in rule text; write it as an escape such as \\n`);
  }
  let i = 0;
  while (isSpace(text[i])) i++;
  if (i === text.length || text[i] === '#') return { kind: 'skip' };
  let end = text.length;
  while (end > i && isSpace(text[end - 1])) end--;
  // `\ ` at the end is an escaped space, part of the regex: keep it.
  let backslashes = 0;
  while (text[end - 1 - backslashes] === '\\') backslashes++;
  if (backslashes % 2 === 1 && end < text.length) end++;
  const body = text.slice(0, end);

  try {
    let methods: Method[] | null = null;
    const methodColumns: number[] = [];
    if (body[i] === '[') {
      methods = [];
      i = scanMethods(body, i, methods, methodColumns);
      while (isSpace(body[i])) i++;
    }
    const urlStart = i;
    const urlEnd = scanRegex(body, i, (at) => constraintKeywordEnd(body, at) >= 0);
    const url = body.slice(urlStart, urlEnd);
    if (url === '') return error('empty_url', urlStart, 'the rule has no URL regex');
    const constraints: Constraint[] = [];
    const patternColumns: number[] = [];
    i = urlEnd;
    while (i < body.length) {
      const keywordEnd = constraintKeywordEnd(body, i);
      if (keywordEnd < 0) {
        return error('trailing_text', i, `unexpected text \`${body.slice(i, i + 20)}\` after the last constraint`);
      }
      const scanned = scanConstraint(body, i, keywordEnd);
      constraints.push(scanned.constraint);
      patternColumns.push(scanned.patternColumn);
      i = scanned.end;
      while (isSpace(body[i])) i++;
    }
    return { kind: 'rule', rule: { methods, methodColumns, url, urlColumn: urlStart + 1, constraints, patternColumns } };
  } catch (err) {
    if (err instanceof LineError) return error(err.code, err.index, err.message);
    throw err;
  }
}
