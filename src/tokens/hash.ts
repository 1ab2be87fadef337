// Salted token hashes (SPEC §4): SHA-256, or HMAC-SHA256 with a server pepper; compared in constant time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of per-token salt. */
const SALT_BYTES = 16;

/** What a store keeps instead of the secret. */
export interface SecretHash {
  /** Per-token random salt, base64url. */
  readonly salt: string;
  /** SHA-256 (or HMAC-SHA256 with the pepper) of salt and secret, base64url. */
  readonly hash: string;
}

/** Hashes secrets for one service; the pepper, when given, never leaves this object. */
export class SecretHasher {
  readonly #pepper: Buffer | undefined;

  constructor(pepper?: string | Uint8Array) {
    if (pepper !== undefined) {
      const bytes = typeof pepper === 'string' ? Buffer.from(pepper, 'utf8') : pepper;
      if (!(bytes instanceof Uint8Array) || bytes.length < 16) {
        throw new TypeError('options.pepper must be a string or Uint8Array/Buffer of at least 16 bytes (for example 32 random bytes from a secret manager)');
      }
      this.#pepper = Buffer.from(bytes);
    }
  }

  #digest(salt: Buffer, secret: string): Buffer {
    const h = this.#pepper ? createHmac('sha256', this.#pepper) : createHash('sha256');
    return h.update(salt).update(secret, 'utf8').digest();
  }

  /** A fresh salt and the hash of `secret` under it. */
  hash(secret: string): SecretHash {
    const salt = randomBytes(SALT_BYTES);
    return { salt: salt.toString('base64url'), hash: this.#digest(salt, secret).toString('base64url') };
  }

  /** Whether `secret` hashes to `stored`, compared in constant time. */
  matches(secret: string, stored: SecretHash): boolean {
    const expected = Buffer.from(stored.hash, 'base64url');
    const actual = this.#digest(Buffer.from(stored.salt, 'base64url'), secret);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
