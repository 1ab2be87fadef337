// Password hashes for findUser (src/http/session/password.ts): scrypt, self-describing, constant-time compare.
import { hashPassword, verifyPasswordHash } from '../../../../src/http/session/password';

describe('hashPassword and verifyPasswordHash', () => {
  let hash: string;
  beforeAll(async () => {
    hash = await hashPassword('correct horse');
  });

  test('a hash names its algorithm and cost, has a fresh salt, and verifies its password only', async () => {
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await hashPassword('correct horse')).not.toBe(hash);
    expect(await verifyPasswordHash('correct horse', hash)).toBe(true);
    expect(await verifyPasswordHash('correct horsE', hash)).toBe(false);
    expect(await verifyPasswordHash('', hash)).toBe(false);
  });

  test('the password is NFC-normalised: the same characters composed or decomposed match', async () => {
    const composed = await hashPassword('caf\u00e9');
    expect(await verifyPasswordHash('cafe\u0301', composed)).toBe(true);
  });

  test.each([
    ['not a hash'],
    ['bcrypt$2b$10$abc'],
    [''],
    // A cost out of bounds would let a broken or hostile record cost unbounded time: false, without deriving.
    ['scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['scrypt$32767$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['scrypt$32768$64$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('a malformed or out-of-bounds hash %j never matches', async (bad) => {
    expect(await verifyPasswordHash('correct horse', bad)).toBe(false);
  });

  test('a hash with a truncated key never matches', async () => {
    expect(await verifyPasswordHash('correct horse', hash.slice(0, -1))).toBe(false);
  });

  test('an empty password is a programmer error', async () => {
    await expect(hashPassword('')).rejects.toThrow(TypeError);
  });
});
