// The management API's coded errors (SPEC §7), in the SPEC §5 error body.
import { HttpError } from '../errors.js';

/** Every code the management API answers with; the token service's own codes pass through as they are. */
export type ManageErrorCode =
  | 'invalid_body'
  | 'invalid_restrictions'
  | 'not_authenticated'
  | 'token_auth_refused'
  | 'admin_only'
  | 'not_found'
  | 'too_many_requests'
  | 'expiry_required'
  | 'expiry_in_past'
  | 'lifetime_exceeded'
  | 'quota_exceeded'
  | 'secure_mode'
  | 'invalid_input'
  | 'unavailable';

const STATUS: Readonly<Record<ManageErrorCode, number>> = {
  invalid_body: 400,
  invalid_restrictions: 422,
  not_authenticated: 401,
  token_auth_refused: 403,
  admin_only: 403,
  not_found: 404,
  too_many_requests: 429,
  expiry_required: 422,
  expiry_in_past: 422,
  lifetime_exceeded: 422,
  quota_exceeded: 409,
  secure_mode: 409,
  invalid_input: 400,
  unavailable: 503,
};

/** The default message of each code that is not the token service's. */
export const MANAGE_ERROR_MESSAGE: Readonly<Partial<Record<ManageErrorCode, string>>> = {
  not_authenticated: 'Log in to manage API tokens.',
  token_auth_refused: 'API tokens cannot manage API tokens: log in with your password (a restricted token must never mint an unrestricted one).',
  admin_only: 'Only an administrator may do this.',
  not_found: 'There is no such token.',
  too_many_requests: 'Too many rule checks; retry later.',
  unavailable: 'The token service is unavailable; retry later.',
};

/** An error of the management API: `status`, a stable `code`, a message that names the limit hit. */
export class ManageError extends HttpError<ManageErrorCode> {
  constructor(code: ManageErrorCode, message: string = MANAGE_ERROR_MESSAGE[code] ?? code, explanation?: string, readonly details?: unknown) {
    super(STATUS[code], code, message, explanation);
    this.name = 'ManageError';
    this.stack = `${this.name}: ${this.message}`;
  }

  override toJSON() {
    const body = super.toJSON();
    return this.details === undefined ? body : { error: { ...body.error, details: this.details } };
  }
}
