// Finds a tokenfence credential in the Authorization header(s) of a request (SPEC §5).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { requestProperty } from './request.js';

/** The most bytes an Authorization header holding a tokenfence credential may have. */
export const MAX_AUTHORIZATION_BYTES = 1024;

/** What {@link readCredential} found. */
export type Credential =
  /** No Authorization value mentions the token prefix: not tokenfence's business. */
  | { kind: 'none' }
  /** A tokenfence credential, well-formed: the token text and, for Basic, the user name. */
  | { kind: 'token'; via: 'bearer' | 'basic'; token: string; username: string | undefined }
  /** A value mentions the prefix but is not exactly one well-formed credential. `detail` never holds secret text. */
  | { kind: 'malformed'; detail: string };

const NONE: Credential = { kind: 'none' };
// RFC 7235: auth-scheme is a token; credentials are token68 for both schemes used here.
const SCHEME_AND_VALUE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([A-Za-z0-9._~+/-]+=*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/**
 * What a user name may not hold: control characters, line and paragraph separators, and bidirectional
 * controls (Trojan Source), which would let the name (for an any-user token, the acting user) break or
 * reorder lines where it is shown, audit logs among them.
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Every Authorization value of the request, one per header line, when there is more than one line; undefined
 * for one line (Node keeps only the first in `headers`), so the common case builds nothing.
 */
function repeatedAuthorization(req: IncomingMessage): string[] | undefined {
  const raw = requestProperty(req, 'rawHeaders');
  let first: string | undefined;
  let values: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (!isAuthorizationName(raw[i]!)) continue;
    if (first === undefined) first = raw[i + 1]!;
    else (values ??= [first]).push(raw[i + 1]!);
  }
  return values;
}

const isAuthorizationName = (name: string): boolean => name.length === 13 && name.toLowerCase() === 'authorization';

/** Whether `value` starts with `Bearer ` (the scheme in any case, one space). */
function bearerScheme(value: string): boolean {
  if (value.length < 8 || value.charCodeAt(6) !== 0x20) return false;
  for (let i = 0; i < 6; i++) if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return false;
  return true;
}
const BEARER = 'bearer';

/** Whether `value` from `start` on is one run of a token's alphabet, base62 and `_`. */
function tokenTextFrom(value: string, start: number): boolean {
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // 0-9, A-Z, _ , a-z
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return true;
}

/** Decodes strict, canonical base64 to UTF-8 text; undefined when it is anything else. */
function decodeBase64(text: string): string | undefined {
  if (!BASE64.test(text)) return undefined;
  try {
    return utf8.decode(Buffer.from(text, 'base64'));
  } catch {
    return undefined;
  }
}

/** Whether a value belongs to tokenfence: it names the prefix as is, or inside a Basic credential. */
function mentionsPrefix(value: string, prefix: string): boolean {
  if (value.includes(prefix)) return true;
  const trimmed = value.trimStart();
  if (trimmed.length < 6 || trimmed.slice(0, 5).toLowerCase() !== 'basic' || !/\s/.test(trimmed[5]!)) return false;
  // A lenient decode at every alignment: a sloppy or garbled Basic value that hides the prefix is still
  // ours (and then malformed), never passed on to the host as somebody else's credential.
  const text = trimmed.slice(6).replace(/\s+/g, '');
  for (let offset = 0; offset < 4; offset++) {
    if (Buffer.from(text.slice(offset), 'base64').toString('latin1').includes(prefix)) return true;
  }
  return false;
}

/**
 * Reads the request's credential. Any Authorization value that mentions `prefix` makes the request
 * tokenfence's: it must then be the only Authorization header and exactly one well-formed
 * `Bearer <token>` or `Basic base64(user:token)` (scheme case-insensitive), else `malformed`.
 * Whether the token itself is valid is the token service's question. `headers` is `req.headers`, when the
 * caller has read it already.
 */
export function readCredential(req: IncomingMessage, prefix: string, headers: IncomingHttpHeaders = requestProperty(req, 'headers')): Credential {
  // The common cases first: no header at all, or one header that does not mention the prefix.
  const value = headers.authorization;
  if (value === undefined) return NONE;
  const values = repeatedAuthorization(req);
  if (values !== undefined) {
    for (const v of values) if (mentionsPrefix(v, prefix)) return { kind: 'malformed', detail: `${values.length} Authorization headers` };
    return NONE;
  }
  if (!mentionsPrefix(value, prefix)) return NONE;
  // The common case, checked without a regex: "Bearer " and one run of base62 and "_" (a token's alphabet).
  if (value.length <= MAX_AUTHORIZATION_BYTES && bearerScheme(value) && tokenTextFrom(value, 7)) {
    return { kind: 'token', via: 'bearer', token: value.slice(7), username: undefined };
  }
  if (Buffer.byteLength(value) > MAX_AUTHORIZATION_BYTES) return { kind: 'malformed', detail: `the Authorization header is over ${MAX_AUTHORIZATION_BYTES} bytes` };
  const match = SCHEME_AND_VALUE.exec(value.trim());
  if (match === null) return { kind: 'malformed', detail: 'the Authorization header is not "<scheme> <credential>"' };
  const scheme = match[1]!.toLowerCase();
  const credential = match[2]!;
  if (scheme === 'bearer') {
    return { kind: 'token', via: 'bearer', token: credential, username: undefined };
  }
  if (scheme !== 'basic') return { kind: 'malformed', detail: 'the scheme is neither Bearer nor Basic' };
  const decoded = decodeBase64(credential);
  if (decoded === undefined) return { kind: 'malformed', detail: 'the Basic credential is not canonical base64 of UTF-8 text' };
  const colon = decoded.indexOf(':');
  if (colon <= 0) return { kind: 'malformed', detail: 'the Basic credential has no user name' };
  const username = decoded.slice(0, colon);
  const token = decoded.slice(colon + 1);
  if (CONTROL.test(username)) return { kind: 'malformed', detail: 'the Basic user name holds a control, line-separator or bidirectional-control character' };
  if (username.includes(prefix) || !token.startsWith(prefix)) return { kind: 'malformed', detail: 'the Basic password is not the only token' };
  return { kind: 'token', via: 'basic', token, username };
}
