// Coded errors of the token service: bad requests to create, edit or rotate tokens (SPEC §4, §7).

/** Stable codes; the management API maps them to HTTP statuses. */
export type TokenErrorCode =
  | 'invalid_input'
  | 'expiry_required'
  | 'expiry_in_past'
  | 'lifetime_exceeded'
  | 'quota_exceeded'
  | 'secure_mode'
  | 'not_found';

const STATUS: Readonly<Record<TokenErrorCode, number>> = {
  invalid_input: 400,
  expiry_required: 422,
  expiry_in_past: 422,
  lifetime_exceeded: 422,
  quota_exceeded: 409,
  secure_mode: 409,
  not_found: 404,
};

/**
 * A request the token service refuses. `code` is stable; `status` is the HTTP status the management API
 * answers with; the message says which limit or rule was hit. Never contains a secret.
 */
export class TokenError extends Error {
  readonly status: number;

  constructor(readonly code: TokenErrorCode, message: string) {
    super(message);
    this.name = 'TokenError';
    this.status = STATUS[code];
  }
}
