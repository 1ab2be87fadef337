// The audit event (SPEC §6) as the token layer emits it; the HTTP layer adds request details and sinks.

/**
 * Event types: `token.*` are lifecycle changes, `token.used`/`token.denied` come from the guard,
 * `session.*` from the session resource, `xsrf.denied` from the XSRF check, `manage.denied` from the token
 * management API (a call it refused: not logged in, made with a token, not an admin, no such token, too many).
 */
export type AuditEventType =
  | 'token.created'
  | 'token.updated'
  | 'token.rotated'
  | 'token.revoked'
  | 'token.purged'
  | 'token.used'
  | 'token.denied'
  | 'session.login'
  | 'session.login_failed'
  | 'session.login_denied'
  | 'session.logout'
  | 'xsrf.denied'
  | 'manage.denied';

/**
 * One audit event. Never holds a token secret, a password, a session id or a form token: only the
 * public token id. The events tokenfence emits are frozen, and `at` is a Date of the event's own: a hook
 * or sink that tries to change one throws (and is reported), and the other sinks still get it as it was.
 */
export interface AuditEvent {
  readonly type: AuditEventType;
  readonly at: Date;
  /** Who acted: the caller of a lifecycle change, or the user a token call acted as. */
  readonly user: string | null;
  readonly tokenId?: string | undefined;
  readonly via?: 'bearer' | 'basic' | 'session' | undefined;
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  readonly ip?: string | null | undefined;
  readonly userAgent?: string | undefined;
  readonly outcome: 'success' | 'failure';
  readonly reason?: string | undefined;
  readonly requestId?: string | undefined;
  /** For a token call: the restriction line that allowed it. */
  readonly line?: number | undefined;
  /** For a token call: the HTTP status the guard answered with, when it refused the call. */
  readonly status?: number | undefined;
}

/** Receives audit events. It may be async; a failure is reported, never passed on to the caller. */
export type AuditHook = (event: AuditEvent) => void | Promise<void>;
