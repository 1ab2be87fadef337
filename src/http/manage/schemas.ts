// The JSON schemas of the management API: ajv validates request bodies with them, and the OpenAPI document
// is built from the same objects, so the two cannot drift apart.

const ISO_DATE_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$';
/** The largest restriction text accepted (parseRestrictions' default maxBytes, 128 KiB). */
export const MAX_RESTRICTIONS = 131_072;

const label = { type: 'string', minLength: 1, maxLength: 255, description: 'A name for the token, such as the script that uses it.' } as const;
const expiresAt = { type: ['string', 'null'], pattern: ISO_DATE_TIME, description: 'When the token expires (ISO 8601 with a zone); null for no expiry, where the policy allows it.' } as const;
const expiresInDays = { type: 'integer', minimum: 1, maximum: 36_500, description: 'Days from now until the token expires (instead of expiresAt).' } as const;
const restrictions = { type: 'string', maxLength: MAX_RESTRICTIONS, description: 'Restriction lines (SPEC §2); empty for none.' } as const;

/** `POST /`. */
export const CREATE_BODY = {
  type: 'object',
  required: ['label'],
  properties: {
    label,
    expiresAt,
    expiresInDays,
    restrictions,
    owner: { type: ['string', 'null'], minLength: 1, maxLength: 255, description: 'Admin only: the user the token acts as; null for an any-user token (used with HTTP Basic).' },
  },
  additionalProperties: false,
  not: { required: ['expiresAt', 'expiresInDays'] },
} as const;

/** `PATCH /:id`. */
export const UPDATE_BODY = {
  type: 'object',
  minProperties: 1,
  properties: { label, expiresAt, expiresInDays, restrictions },
  additionalProperties: false,
  not: { required: ['expiresAt', 'expiresInDays'] },
} as const;

/** `POST /validate`. */
export const VALIDATE_BODY = {
  type: 'object',
  required: ['restrictions'],
  properties: { restrictions },
  additionalProperties: false,
} as const;

/** `POST /check`. */
export const CHECK_BODY = {
  type: 'object',
  required: ['restrictions', 'request'],
  properties: {
    restrictions,
    request: {
      type: 'object',
      required: ['method', 'url'],
      properties: {
        method: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$" },
        url: { type: 'string', minLength: 1, maxLength: 16_384, pattern: '^/', description: 'Path and query, as the request would be sent.' },
        contentType: { type: 'string', maxLength: 256 },
        body: { description: 'The JSON body, for JsonData constraints.' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

/** A token as the API shows it: never the secret or its hash. */
export const TOKEN = {
  type: 'object',
  required: ['id', 'owner', 'label', 'createdAt', 'expiresAt', 'lastAccessed', 'lastAccessedIp', 'usageCount', 'restrictions', 'expired', 'expiresSoon'],
  properties: {
    id: { type: 'string' },
    owner: { type: ['string', 'null'] },
    label: { type: 'string' },
    createdAt: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
    lastAccessed: { type: ['string', 'null'] },
    lastAccessedIp: { type: ['string', 'null'] },
    usageCount: { type: 'integer' },
    restrictions: { type: 'string' },
    expired: { type: 'boolean' },
    expiresSoon: { type: 'boolean', description: 'The token expires within 5 days.' },
    expiresInDays: { type: ['number', 'null'], description: 'Days left (fractional), null without expiry.' },
  },
} as const;

/** `POST /` and `POST /:id/rotate`: the secret, once. */
export const ISSUED = {
  type: 'object',
  required: ['token', 'record', 'snippets'],
  properties: {
    token: { type: 'string', description: 'The secret. It is shown this once and never again.' },
    record: TOKEN,
    snippets: {
      type: 'object',
      required: ['curlBearer', 'curlBasic', 'fetch', 'powershell'],
      properties: { curlBearer: { type: 'string' }, curlBasic: { type: 'string' }, fetch: { type: 'string' }, powershell: { type: 'string' } },
    },
  },
} as const;

const DIAGNOSTIC = {
  type: 'object',
  required: ['line', 'column', 'code', 'message'],
  properties: { line: { type: 'integer' }, column: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } },
} as const;

/** `POST /validate`'s answer. */
export const VALIDATION = {
  type: 'object',
  required: ['ok', 'errors', 'warnings'],
  properties: { ok: { type: 'boolean' }, errors: { type: 'array', items: DIAGNOSTIC }, warnings: { type: 'array', items: DIAGNOSTIC } },
} as const;

/** `POST /check`'s answer. */
export const DECISION = {
  type: 'object',
  required: ['allowed', 'explanation'],
  properties: { allowed: { type: 'boolean' }, line: { type: 'integer' }, reason: { type: 'string' }, explanation: { type: 'string' } },
} as const;

/** `GET /admin/all`'s answer. */
export const BY_USER = {
  type: 'array',
  items: {
    type: 'object',
    required: ['username', 'count', 'tokens'],
    properties: { username: { type: ['string', 'null'], description: 'null for the any-user tokens.' }, count: { type: 'integer' }, tokens: { type: 'array', items: TOKEN } },
  },
} as const;

/** The SPEC §5 error body. */
export const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['status', 'code', 'message'],
      properties: { status: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, explanation: { type: 'string' }, details: {} },
    },
  },
} as const;
