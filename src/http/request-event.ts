// Audit events of requests answered outside the guard (the session resource, the XSRF check): who, what,
// from where, with what outcome. Built from the request's path alone (never its query or body, which may
// carry a password or a form token), and never with a session id.
import type { Request } from 'express';
import type { AuditEvent, AuditEventType, AuditHook } from '../audit/events.js';

const MAX_PATH = 1024;
const MAX_USER = 255;
const MAX_USER_AGENT = 256;
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** What the answering module knows of the outcome. */
export interface RequestOutcome {
  readonly user: string | null;
  readonly via?: 'bearer' | 'basic' | 'session' | undefined;
  readonly outcome: 'success' | 'failure';
  readonly reason?: string | undefined;
  readonly status?: number | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const HAS_CONTROL = new RegExp(CONTROL.source);
/**
 * `text` cut to `max` characters, its control and line-separator characters written as `\uXXXX`: a name or
 * path a client chose must not break an audit text line in two (a forged second event).
 */
const cut = (text: string, max: number): string => {
  const short = text.length > max ? `${text.slice(0, max)}…` : text;
  return HAS_CONTROL.test(short) ? short.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : short;
};

/** The frozen audit event of `req`'s outcome. */
export function requestEvent(type: AuditEventType, req: Request, outcome: RequestOutcome): AuditEvent {
  const target = typeof req.originalUrl === 'string' ? req.originalUrl : (req.url ?? '');
  const q = target.indexOf('?');
  const userAgent = req.headers['user-agent'];
  const requestId = req.headers['x-request-id'];
  let ip: string | null;
  try {
    ip = req.ip ?? req.socket?.remoteAddress ?? null;
  } catch {
    ip = req.socket?.remoteAddress ?? null;
  }
  const event: AuditEvent = Object.freeze({
    type,
    at: new Date(),
    user: outcome.user === null ? null : cut(outcome.user, MAX_USER),
    via: outcome.via,
    method: req.method,
    path: cut(q < 0 ? target : target.slice(0, q), MAX_PATH),
    ip,
    userAgent: typeof userAgent === 'string' ? cut(userAgent, MAX_USER_AGENT) : undefined,
    outcome: outcome.outcome,
    reason: outcome.reason,
    requestId: typeof requestId === 'string' && REQUEST_ID.test(requestId) ? requestId : undefined,
    status: outcome.status,
  });
  return event;
}

/** Hands an event to the hook; a hook that throws or rejects is reported, never passed on. */
export function emitEvent(hook: AuditHook | undefined, event: () => AuditEvent, report: (error: unknown, context: string) => void): void {
  if (hook === undefined) return;
  try {
    const result = hook(event());
    if (result instanceof Promise) result.catch((err: unknown) => report(err, 'audit hook failed'));
  } catch (err) {
    report(err, 'audit hook failed');
  }
}
