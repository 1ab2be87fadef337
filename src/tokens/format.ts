// The token format (SPEC §4): prefix, public id, secret and checksum, checked offline before any store access.
import { randomBytes } from 'node:crypto';

/** The default prefix: recognisable by people and by secret scanners. */
export const DEFAULT_PREFIX = 'tfk_';
/** Lengths, in base62 characters: 12 for the id (~71 bits), 24 for the secret (~142 bits), 6 for the CRC32. */
export const ID_LENGTH = 12;
export const SECRET_LENGTH = 24;
export const CHECKSUM_LENGTH = 6;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_RUN = /^[0-9A-Za-z]+$/;
const PREFIX_SHAPE = /^[a-z][a-z0-9]{1,15}_$/;

/** Checks a configured prefix; a programmer error throws a TypeError that says how to fix it. */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !PREFIX_SHAPE.test(prefix)) {
    throw new TypeError(`options.prefix must be 2–16 lower-case letters or digits followed by "_", such as "${DEFAULT_PREFIX}"; got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** Uniform random base62 text from a CSPRNG (rejection sampling: bytes ≥ 248 are discarded). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE) of an ASCII string. */
export function crc32(text: string): number {
  let crc = -1;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** The checksum of `body` (prefix + id + secret): its CRC-32 as six base62 characters. */
export function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A new token: the full text to hand out once, and its parts. */
export function generateToken(prefix: string): { token: string; id: string; secret: string } {
  const id = randomBase62(ID_LENGTH);
  const secret = randomBase62(SECRET_LENGTH);
  const body = prefix + id + secret;
  return { token: body + checksum(body), id, secret };
}

/** The outcome of {@link parseToken}: the parts, or why the text is not a token. */
export type ParsedToken = { ok: true; id: string; secret: string } | { ok: false; reason: 'malformed' | 'checksum' };

/**
 * Splits a token into id and secret, offline: wrong prefix, length or alphabet is `malformed`, a wrong
 * checksum (a typo, a truncated paste) is `checksum`. Never throws, whatever it is given.
 */
export function parseToken(text: unknown, prefix: string): ParsedToken {
  const length = prefix.length + ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
  if (typeof text !== 'string' || text.length !== length || !text.startsWith(prefix)) return { ok: false, reason: 'malformed' };
  const rest = text.slice(prefix.length);
  if (!BASE62_RUN.test(rest)) return { ok: false, reason: 'malformed' };
  const body = text.slice(0, length - CHECKSUM_LENGTH);
  if (checksum(body) !== text.slice(length - CHECKSUM_LENGTH)) return { ok: false, reason: 'checksum' };
  return { ok: true, id: rest.slice(0, ID_LENGTH), secret: rest.slice(ID_LENGTH, ID_LENGTH + SECRET_LENGTH) };
}
