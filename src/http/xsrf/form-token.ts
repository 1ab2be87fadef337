// Form tokens (SPEC §9): OWASP's signed double-submit token, bound to the session id. A token is
// `base64url(random) + '.' + base64url(HMAC-SHA256(secret, sessionID + '.' + base64url(random)))`; it needs
// no storage, lives as long as the session id (so login, which regenerates the id, renews it) and is checked
// in constant time against every configured secret (rotation).
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/** The body field and query parameter that carry a form token, as in Jira. */
export const FORM_TOKEN_FIELD = 'atl_token';

/** A secret that signs form tokens: a string of at least 32 characters or a Buffer of at least 32 bytes. */
export type XsrfSecret = string | Buffer;

/** The least length of a secret, in characters (string) or bytes (Buffer): 256 bits for HMAC-SHA256. */
export const MIN_SECRET_LENGTH = 32;

/** Random bytes per token: 144 bits, 24 base64url characters. */
const RANDOM_BYTES = 18;
/** A well-formed token: 16 to 32 random bytes and a 32-byte MAC, base64url without padding. */
const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22,43})\.([A-Za-z0-9_-]{43})$/;
const MAX_TOKEN_LENGTH = 43 + 1 + 43;

const HOW_TO_GENERATE = `generate one with: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))" and keep it out of source control`;

/** Checks one secret and makes it a key; the message never shows the secret. */
function keyOf(name: string, secret: unknown): KeyObject {
  if (typeof secret === 'string') {
    if (secret.length < MIN_SECRET_LENGTH) throw new TypeError(`${name} must be at least ${MIN_SECRET_LENGTH} characters long (got ${secret.length}); ${HOW_TO_GENERATE}`);
    return createSecretKey(Buffer.from(secret, 'utf8'));
  }
  if (Buffer.isBuffer(secret)) {
    if (secret.length < MIN_SECRET_LENGTH) throw new TypeError(`${name} must be at least ${MIN_SECRET_LENGTH} bytes long (got ${secret.length}); ${HOW_TO_GENERATE}`);
    // createSecretKey copies the bytes: a later change of the caller's Buffer changes nothing here.
    return createSecretKey(secret);
  }
  const what = secret === undefined ? 'is required:' : 'must be';
  throw new TypeError(`${name} ${what} a string of at least ${MIN_SECRET_LENGTH} characters or a Buffer of at least ${MIN_SECRET_LENGTH} bytes, or an array of them (newest first); ${HOW_TO_GENERATE}`);
}

/**
 * The keys of `secret`: one, or several for rotation (the first signs, all verify). Throws a TypeError
 * naming `name` when a secret is missing or too short.
 */
export function formTokenKeys(name: string, secret: unknown): readonly KeyObject[] {
  if (!Array.isArray(secret)) return Object.freeze([keyOf(name, secret)]);
  if (secret.length === 0) throw new TypeError(`${name} must not be an empty array: give the current secret first, then the ones still accepted; ${HOW_TO_GENERATE}`);
  return Object.freeze(secret.map((s: unknown, i) => keyOf(`${name}[${i}]`, s)));
}

const macOf = (key: KeyObject, sessionId: string, random: string): string => createHmac('sha256', key).update(`${sessionId}.${random}`, 'utf8').digest('base64url');

/** Signs and verifies form tokens with a fixed list of keys. */
export class FormTokens {
  /** @param keys from {@link formTokenKeys}: the first signs, every one verifies. */
  constructor(private readonly keys: readonly KeyObject[]) {
    if (keys.length === 0) throw new TypeError('FormTokens needs at least one key');
  }

  /** A fresh token for the session `sessionId`; every token minted for a session stays valid as long as its id. */
  mint(sessionId: string): string {
    if (typeof sessionId !== 'string' || sessionId === '') throw new TypeError('a form token needs a session id (a non-empty string)');
    const random = randomBytes(RANDOM_BYTES).toString('base64url');
    return `${random}.${macOf(this.keys[0]!, sessionId, random)}`;
  }

  /**
   * Whether `token` was minted for `sessionId` with one of the keys. Anything else (another session's
   * token, a tampered, truncated or non-string value, no session id) is `false`; it never throws.
   */
  verify(sessionId: unknown, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || typeof sessionId !== 'string' || sessionId === '') return false;
    const parts = TOKEN_SHAPE.exec(token);
    if (parts === null) return false;
    const given = Buffer.from(parts[2]!, 'latin1');
    let valid = false;
    // Every key is tried, so the time taken does not say which one signed the token.
    for (const key of this.keys) {
      const expected = Buffer.from(macOf(key, sessionId, parts[1]!), 'latin1');
      if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
    }
    return valid;
  }
}
