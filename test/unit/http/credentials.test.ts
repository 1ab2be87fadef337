// readCredential: which Authorization values are tokenfence's, and which of those are well-formed.
import type { IncomingMessage } from 'node:http';
import { MAX_AUTHORIZATION_BYTES, readCredential } from '../../../src/http/credentials';

const TOKEN = 'tfk_abcdefghijkl' + 'A'.repeat(24) + 'xyz123';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A request as Node's parser leaves it: `headers` keeps the first Authorization, `rawHeaders` every line. */
function req(...authorization: string[]): IncomingMessage {
  const rawHeaders = authorization.flatMap((v) => ['Authorization', v]);
  return { headers: authorization.length > 0 ? { authorization: authorization[0] } : {}, rawHeaders } as unknown as IncomingMessage;
}

describe('readCredential', () => {
  it('leaves requests without the prefix alone', () => {
    expect(readCredential(req(), 'tfk_')).toEqual({ kind: 'none' });
    expect(readCredential(req('Bearer eyJhbGciOiJIUzI1NiJ9.e30.x'), 'tfk_')).toEqual({ kind: 'none' });
    expect(readCredential(req(`Basic ${b64('alice:hunter2')}`), 'tfk_')).toEqual({ kind: 'none' });
    expect(readCredential(req('Negotiate abc', 'Bearer other'), 'tfk_')).toEqual({ kind: 'none' });
  });

  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('reads the %s scheme case-insensitively', (scheme) => {
    expect(readCredential(req(`${scheme} ${TOKEN}`), 'tfk_')).toEqual({ kind: 'token', via: 'bearer', token: TOKEN, username: undefined });
  });

  it('reads Basic user:token, the user name kept as sent', () => {
    expect(readCredential(req(`basic ${b64(`Ålice:${TOKEN}`)}`), 'tfk_')).toEqual({ kind: 'token', via: 'basic', token: TOKEN, username: 'Ålice' });
  });

  it.each([
    ['two headers', [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]],
    ['a token and another credential', ['Bearer other', `Bearer ${TOKEN}`]],
    ['two credentials in one value', [`Bearer ${TOKEN} ${TOKEN}`]],
    ['a comma list', [`Bearer ${TOKEN}, Bearer ${TOKEN}`]],
    ['an unknown scheme', [`Token ${TOKEN}`]],
    ['no scheme', [TOKEN]],
    ['an over-long value', [`Bearer ${TOKEN}${'a'.repeat(MAX_AUTHORIZATION_BYTES)}`]],
    ['a 10 KB value', [`Bearer ${'x'.repeat(10_000)}${TOKEN}`]],
    ['Basic with invalid base64', [`Basic ${b64(`alice:${TOKEN}`).slice(1)}`]],
    ['Basic with base64 of non-UTF-8 bytes', [`Basic ${Buffer.concat([Buffer.from('\xff\xfe:', 'latin1'), Buffer.from(TOKEN)]).toString('base64')}`]],
    ['Basic without a colon', [`Basic ${b64(TOKEN)}`]],
    ['Basic with an empty user', [`Basic ${b64(`:${TOKEN}`)}`]],
    ['Basic with the token as user name', [`Basic ${b64(`${TOKEN}:x`)}`]],
    ['Basic with text after the token', [`Basic ${b64(`alice:x${TOKEN}`)}`]],
    ['Basic with a control character in the user name', [`Basic ${b64(`ali\nce:${TOKEN}`)}`]],
    ['Basic with spaces inside the base64', [`Basic ${b64(`alice:${TOKEN}`).replace(/(.{8})/, '$1 ')}`]],
  ])('calls %s malformed', (_name, values) => {
    const found = readCredential(req(...values), 'tfk_');
    expect(found.kind).toBe('malformed');
    expect(JSON.stringify(found)).not.toContain(TOKEN);
  });

  it('uses the configured prefix', () => {
    const other = `acme_${TOKEN.slice(4)}`;
    expect(readCredential(req(`Bearer ${other}`), 'tfk_')).toEqual({ kind: 'none' });
    expect(readCredential(req(`Bearer ${other}`), 'acme_').kind).toBe('token');
  });
});
