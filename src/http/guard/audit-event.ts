// The guard's audit events (SPEC §6): one per token call, `token.used` or `token.denied`, with every text a
// client chose (path, User-Agent, request id) cleared of pasted tokens.
import type { AuditEvent, AuditEventType } from '../../audit/events.js';
import type { GuardError } from '../errors.js';
import type { CallContext, Guard } from './context.js';
import { clientIp, pathPart, requestIdOf, requestProperty, userAgentOf, type GuardRequest } from './request.js';

const MAX_AUDIT_PATH = 1024;
const MAX_REQUEST_ID = 256;
const USED: AuditEventType = 'token.used';
const DENIED: AuditEventType = 'token.denied';

const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;
/**
 * `text` percent-decoded for redaction: up to eight rounds (a double-encoded token is still one), each run
 * of escapes read as UTF-8, an invalid sequence as U+FFFD, so it never throws.
 */
function decodeForAudit(text: string): string {
  let out = text;
  for (let round = 0; round < 8 && out.includes('%'); round++) {
    const next = out.replace(ESCAPES, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
    if (next === out) break;
    out = next;
  }
  return out;
}

const NOT_PRINTABLE_ASCII = /[^\x21-\x7e]/gu;
/** One character percent-encoded as UTF-8 (a lone surrogate as U+FFFD). */
function encodeForAudit(c: string): string {
  try {
    return encodeURIComponent(c);
  } catch {
    return '%EF%BF%BD';
  }
}

/**
 * The redaction of tokens with this prefix. A client that pastes a token into the path, the User-Agent or a
 * request id must not get it into the audit trail or an error body: in any case, and percent-encoded too.
 * (A prefix is lower-case letters, digits and `_`, nothing a regular expression reads specially.)
 */
export function redactorFor(prefix: string): { prefixAnyCase: RegExp; redact: (text: string) => string } {
  const prefixAnyCase = new RegExp(prefix, 'i');
  const tokenText = new RegExp(`${prefix}[0-9A-Za-z]*`, 'gi');
  const redacted = `${prefix}[redacted]`;
  const redact = (text: string): string => {
    if (text.includes('%')) {
      // Decoded, `tf%6B_…` or `tfk_%41…` is a token too: such a text is written decoded, the token replaced.
      const decoded = decodeForAudit(text);
      // Decoded, the text could hold anything (line separators, bidirectional controls): everything but
      // printable ASCII is percent-encoded again.
      if (decoded !== text && prefixAnyCase.test(decoded)) return decoded.replace(tokenText, redacted).replace(NOT_PRINTABLE_ASCII, encodeForAudit);
    }
    // Every prefix ends with `_`: a text without one (most paths and agents) holds no token as sent.
    return text.includes('_') && prefixAnyCase.test(text) ? text.replace(tokenText, redacted) : text;
  };
  return { prefixAnyCase, redact };
}

/** The client address; when Express's `req.ip` throws (a `trust proxy` function of the host's), the socket's. */
export function ipOf(g: Guard, req: GuardRequest, call: CallContext): string | null {
  try {
    return clientIp(req, call.settings);
  } catch (err) {
    g.report(err, "req.ip failed (the app's trust proxy setting); the socket's address is used");
    return requestProperty(req, 'socket')?.remoteAddress ?? null;
  }
}

/** The request id from `options.requestId`; a hook that throws or returns a non-string gives none. */
function customRequestId(g: Guard, req: GuardRequest): string | undefined {
  try {
    const id = g.requestId!(req);
    return typeof id === 'string' ? (id.length > MAX_REQUEST_ID ? id.slice(0, MAX_REQUEST_ID) : id) : undefined;
  } catch (err) {
    g.report(err, 'options.requestId failed; the audit event has no request id');
    return undefined;
  }
}

/** Emits the event of a call's outcome: `token.used` with the allowing line, or `token.denied` with the refusal. Never throws. */
export function auditCall(g: Guard, req: GuardRequest, call: CallContext, line: number | undefined, refusal: GuardError | undefined, at?: Date): void {
  if (g.auditHook === undefined) return;
  let event: AuditEvent;
  try {
    event = buildEvent(g, req, call, line, refusal, at);
  } catch (err) {
    g.report(err, 'the audit event could not be built');
    return;
  }
  try {
    const result = g.auditHook(event);
    if (result instanceof Promise) result.catch((err: unknown) => g.report(err, 'audit hook failed'));
  } catch (err) {
    g.report(err, 'audit hook failed');
  }
}

function buildEvent(g: Guard, req: GuardRequest, call: CallContext, line: number | undefined, refusal: GuardError | undefined, at: Date | undefined): AuditEvent {
  const path = g.redact(pathPart(call.target));
  const headers = call.headers;
  const id = g.requestId === undefined ? requestIdOf(headers) : customRequestId(g, req);
  const userAgent = userAgentOf(headers);
  // Frozen, with a Date of its own (not the token record's): a sink, a hook or a handler holding the
  // principal cannot change the record after it was emitted, and the JSON-lines sink writes it later.
  const event: AuditEvent = Object.freeze({
    type: refusal === undefined ? USED : DENIED,
    at: at === undefined ? new Date() : new Date(at.getTime()),
    user: call.user,
    tokenId: call.tokenId,
    via: call.via,
    method: call.method,
    path: path.length > MAX_AUDIT_PATH ? `${path.slice(0, MAX_AUDIT_PATH)}…` : path,
    ip: call.ip === undefined ? ipOf(g, req, call) : call.ip,
    userAgent: userAgent === undefined ? undefined : g.redact(userAgent),
    outcome: refusal === undefined ? 'success' : 'failure',
    reason: refusal?.code,
    requestId: id === undefined || g.prefixAnyCase.test(id) || (id.includes('%') && g.prefixAnyCase.test(decodeForAudit(id))) ? undefined : id,
    line,
    status: refusal?.status,
  });
  return event;
}
