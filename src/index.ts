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
export {
  createTokenService,
  normalizeUser,
  type TokenService,
  type TokenServiceOptions,
  type TokenPolicy,
  type IssueInput,
  type UpdateInput,
  type ActorOptions,
  type VerifyResult,
  type VerifyFailure,
} from './tokens/service.js';
export { MemoryTokenStore } from './tokens/memory-store.js';
export { SqliteTokenStore, type SqliteTokenStoreOptions } from './tokens/sqlite-store.js';
export { PostgresTokenStore, type PostgresTokenStoreOptions, type PgPool } from './tokens/postgres-store.js';
export type { TokenStore, TokenRecord, StoredToken, TokenChanges, UsageUpdate, MaybePromise } from './tokens/store.js';
export { TokenError, type TokenErrorCode } from './tokens/errors.js';
export type { AuditEvent, AuditEventType, AuditHook } from './audit/events.js';
export { DEFAULT_PREFIX, parseToken, type ParsedToken } from './tokens/format.js';
export { tokenGuard, type TokenGuard, type TokenGuardOptions, type TokenPrincipal, type NextFunction } from './http/guard/index.js';
export { HttpError, GuardError, GUARD_ERROR_STATUS, GUARD_ERROR_MESSAGE, type HttpErrorBody, type GuardErrorCode, type GuardErrorBody } from './http/errors.js';
export type { TokenRateLimitOptions } from './http/guard/rate-limit.js';
export type { GuardRequest } from './http/guard/request.js';
export { DEFAULT_SCOPE, Scope } from './http/guard/scope.js';
export {
  createAuditLog,
  callbackSink,
  pinoSink,
  JsonLinesSink,
  formatAuditMessage,
  auditRecord,
  type AuditSink,
  type AuditLog,
  type AuditLogOptions,
  type JsonLinesSinkOptions,
  type PinoLike,
} from './audit/sinks.js';
export { sessionRouter, callerOf, accountKey, type SessionRouter, type SessionOptions, type SessionUser, type TokenfenceSessionData, type Caller } from './http/session/index.js';
export { SessionError, SESSION_ERROR_MESSAGE, type SessionErrorCode, type LoginReason } from './http/session/errors.js';
export { hashPassword, verifyPasswordHash } from './http/session/password.js';
export { memorySessionStorage, type SessionStorage, type StorageOptions, type LimiterOptions, type LoginInfo, type LoginInfoStore } from './http/session/storage.js';
export { sqliteSessionStorage, type SqliteSessionStorageOptions } from './http/session/sqlite-storage.js';
export { postgresSessionStorage, type PostgresSessionStorageOptions } from './http/session/postgres-storage.js';
export {
  xsrfProtection,
  formToken,
  XsrfError,
  XSRF_ERROR_MESSAGE,
  FORM_TOKEN_FIELD,
  DEFAULT_NO_CHECK_HEADER,
  DEFAULT_TOKEN_HEADER,
  type XsrfProtection,
  type XsrfOptions,
  type XsrfSecret,
  type XsrfCheck,
  type XsrfErrorCode,
  type XsrfRequest,
} from './http/xsrf/index.js';
export { tokenRouter, tokenJson, type TokenRouter, type TokenRouterOptions } from './http/manage/index.js';
export { ManageError, type ManageErrorCode } from './http/manage/errors.js';
export { snippetsFor, type TokenSnippets } from './http/manage/snippets.js';
export { tokenPage, TOKEN_PAGE_CSP, type TokenPageOptions } from './http/manage/page.js';
