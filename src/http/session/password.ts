// Password hashes for hosts that keep users themselves: scrypt from node:crypto, self-describing strings
// (`scrypt$N$r$p$salt$hash`) compared in constant time.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** OWASP's scrypt minimum (N = 2¹⁷, r = 8, p = 1) costs 128 MiB a hash; 2¹⁵ keeps a login near 80 ms (measured on this project's 2-core machine) and 32 MiB. */
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const HASH = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{43})$/;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/**
 * Hashes a password for {@link SessionOptions.findUser}: `scrypt$N$r$p$salt$hash` (base64url). The password
 * is NFC-normalised, so the same characters typed on another keyboard match.
 *
 * @example await hashPassword('correct horse battery staple') // 'scrypt$32768$8$1$…$…'
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password === '') throw new TypeError('hashPassword(password) needs a non-empty string');
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULT_COST);
  return `scrypt$${DEFAULT_COST.N}$${DEFAULT_COST.r}$${DEFAULT_COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * Whether `password` matches `hash` (from {@link hashPassword}). A malformed hash, or one whose cost is out of
 * bounds, is false: a broken user record must not open the account, nor cost unbounded time.
 */
export async function verifyPasswordHash(password: string, hash: string): Promise<boolean> {
  const m = typeof hash === 'string' ? HASH.exec(hash) : null;
  if (m === null || typeof password !== 'string') return false;
  const cost = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.N < 2 ** 10 || cost.N > 2 ** 20 || (cost.N & (cost.N - 1)) !== 0 || cost.r < 1 || cost.r > 32 || cost.p < 1 || cost.p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  const key = await derive(password, Buffer.from(m[4]!, 'base64url'), cost);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
