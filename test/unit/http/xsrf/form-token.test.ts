// Form tokens: signed, bound to the session id, rotation, and refusal of anything malformed without throwing.
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { FormTokens, formTokenKeys, MIN_SECRET_LENGTH } from '../../../../src/http/xsrf/form-token';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const OTHER = randomBytes(32);
const tokensWith = (secret: unknown) => new FormTokens(formTokenKeys('secret', secret));

describe('FormTokens', () => {
  const tokens = tokensWith(SECRET);

  it('round-trips: a token minted for a session verifies for it', () => {
    const token = tokens.mint('session-A');
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify('session-A', token)).toBe(true);
  });

  it('mints a fresh token each time, and all of them stay valid for the session', () => {
    const a = tokens.mint('s');
    const b = tokens.mint('s');
    expect(a).not.toBe(b);
    expect(tokens.verify('s', a)).toBe(true);
    expect(tokens.verify('s', b)).toBe(true);
  });

  it('is bound to the session id: a token of another session fails', () => {
    const token = tokens.mint('session-A');
    expect(tokens.verify('session-B', token)).toBe(false);
    expect(tokens.verify('session-A ', token)).toBe(false);
    expect(tokens.verify('session-', token)).toBe(false);
  });

  it('is bound to the secret: another secret does not accept it', () => {
    expect(tokensWith(OTHER).verify('s', tokens.mint('s'))).toBe(false);
  });

  it('is OWASP\'s signed token: random "." HMAC-SHA256(secret, sessionID "." random), base64url', () => {
    const token = tokens.mint('session-A');
    const [random, mac] = token.split('.') as [string, string];
    expect(Buffer.from(random, 'base64url')).toHaveLength(18);
    expect(mac).toBe(createHmac('sha256', SECRET).update(`session-A.${random}`).digest('base64url'));
  });

  it('refuses tampered, truncated and garbage tokens', () => {
    const token = tokens.mint('s');
    const [random, mac] = token.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad = [
      `${flip(random, 0)}.${mac}`,
      `${random}.${flip(mac, 10)}`,
      `${random}.${flip(mac, 42)}`, // the last character: its low bits are padding, still refused
      token.slice(0, -1),
      token.slice(1),
      `${random}.`,
      `.${mac}`,
      random,
      `${random}.${mac}.`,
      `${token}x`,
      `${token} `,
      ` ${token}`,
      token.replace('.', ':'),
      `${random}.${Buffer.from(mac, 'base64url').toString('base64')}`,
      '',
      'null',
      'x'.repeat(10_000),
    ];
    for (const t of bad) expect(tokens.verify('s', t)).toBe(false);
  });

  it('refuses non-strings and a missing session id without throwing', () => {
    const token = tokens.mint('s');
    for (const t of [undefined, null, 42, {}, [token], Buffer.from(token)]) expect(tokens.verify('s', t)).toBe(false);
    for (const id of [undefined, null, '', 42]) expect(tokens.verify(id, token)).toBe(false);
  });

  it('never throws and never accepts arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), fc.string({ maxLength: 40 }), (token, session) => {
        expect(tokens.verify(session, token)).toBe(false);
      }),
    );
  });

  it('rotates: signs with the first secret and accepts every one', () => {
    const old = tokensWith(OTHER);
    const rotated = tokensWith([SECRET, OTHER]);
    const oldToken = old.mint('s');
    const newToken = rotated.mint('s');
    expect(rotated.verify('s', oldToken)).toBe(true);
    expect(rotated.verify('s', newToken)).toBe(true);
    expect(tokens.verify('s', newToken)).toBe(true);
    expect(old.verify('s', newToken)).toBe(false);
    expect(rotated.verify('t', oldToken)).toBe(false);
  });

  it('refuses to mint without a session id', () => {
    expect(() => tokens.mint('')).toThrow(TypeError);
    expect(() => tokens.mint(undefined as unknown as string)).toThrow(TypeError);
  });

  it('a later change of the caller\'s Buffer changes nothing', () => {
    const buffer = Buffer.from(OTHER);
    const t = tokensWith(buffer);
    const token = t.mint('s');
    buffer.fill(0);
    expect(t.verify('s', token)).toBe(true);
  });
});

describe('formTokenKeys', () => {
  it('accepts strings of 32 characters and Buffers of 32 bytes, alone or in a list', () => {
    expect(formTokenKeys('s', 'x'.repeat(MIN_SECRET_LENGTH))).toHaveLength(1);
    expect(formTokenKeys('s', randomBytes(MIN_SECRET_LENGTH))).toHaveLength(1);
    expect(formTokenKeys('s', [SECRET, OTHER])).toHaveLength(2);
  });

  it.each([
    ['short string', 'x'.repeat(31), /secret must be at least 32 characters long \(got 31\)/],
    ['short Buffer', Buffer.alloc(16), /secret must be at least 32 bytes long \(got 16\)/],
    ['number', 42, /secret must be a string of at least 32 characters or a Buffer/],
    ['missing', undefined, /secret is required: a string of at least 32 characters/],
    ['empty list', [], /must not be an empty array/],
    ['bad list entry', [SECRET, 'short'], /secret\[1\] must be at least 32 characters/],
  ])('refuses a %s, saying how to generate a secret', (_name, secret, message) => {
    expect(() => formTokenKeys('secret', secret)).toThrow(TypeError);
    expect(() => formTokenKeys('secret', secret)).toThrow(message);
    if (!Array.isArray(secret) || secret.length > 0) expect(() => formTokenKeys('secret', secret)).toThrow(/randomBytes\(32\)/);
  });

  it('never puts the secret in the message', () => {
    const short = 'my-short-secret';
    expect(() => formTokenKeys('secret', short)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(short) }));
  });
});
