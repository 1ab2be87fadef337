// readCredential: which Authorization values are tokenfence's, and which of those are well-formed.
import type { IncomingMessage } from 'node:http';
import { MAX_AUTHORIZATION_BYTES, readCredential } from '../../../../src/http/guard/credentials';

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

  describe('a Basic user name that holds the prefix', () => {
    // The decoded value mentions the prefix, so it is tokenfence's business (never passed on as someone
    // else's credential); a user name may not hold the prefix, so it is malformed whatever the password is.
    it.each([
      ['a prefixed user name and a non-token password', 'tfk_bot:hunter2'],
      ['a prefixed user name and a token password', `tfk_bot:${TOKEN}`],
      ['the prefix inside the user name and a token password', `ci.tfk_:${TOKEN}`],
      ['a whole token as user name and a token password', `${TOKEN}:${TOKEN}`],
      ['the prefix as the whole user name and an empty password', 'tfk_:'],
    ])('%s is malformed', (_name, userPass) => {
      const found = readCredential(req(`Basic ${b64(userPass)}`), 'tfk_');
      expect(found).toEqual({ kind: 'malformed', detail: expect.any(String) });
      expect(JSON.stringify(found)).not.toContain(TOKEN);
      expect(JSON.stringify(found)).not.toContain('hunter2');
    });

    it('the prefix is found after decoding: the base64 text itself does not hold it', () => {
      const value = `Basic ${b64('tfk_bot:hunter2')}`;
      expect(value).not.toContain('tfk_');
      expect(readCredential(req(value), 'tfk_').kind).toBe('malformed');
    });

    it('only the user name differs: a plain user name with the same token password is a token', () => {
      expect(readCredential(req(`Basic ${b64(`bot:${TOKEN}`)}`), 'tfk_')).toEqual({ kind: 'token', via: 'basic', token: TOKEN, username: 'bot' });
      // A user name that only resembles the prefix is a user name.
      expect(readCredential(req(`Basic ${b64(`tfk-bot:${TOKEN}`)}`), 'tfk_')).toEqual({ kind: 'token', via: 'basic', token: TOKEN, username: 'tfk-bot' });
      expect(readCredential(req(`Basic ${b64('tfk-bot:hunter2')}`), 'tfk_')).toEqual({ kind: 'none' });
    });

    it('a garbled Basic value that hides a prefixed user name is still ours (malformed), at any base64 alignment', () => {
      const encoded = b64('tfk_bot:hunter2');
      for (const garbled of [`Basic x${encoded}`, `Basic xy${encoded}`, `Basic xyz${encoded}`, `Basic  ${encoded}`]) {
        expect(readCredential(req(garbled), 'tfk_').kind).toBe('malformed');
      }
    });
  });

  it('uses the configured prefix', () => {
    const other = `acme_${TOKEN.slice(4)}`;
    expect(readCredential(req(`Bearer ${other}`), 'tfk_')).toEqual({ kind: 'none' });
    expect(readCredential(req(`Bearer ${other}`), 'acme_').kind).toBe('token');
  });
});
