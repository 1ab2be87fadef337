// `tokenfence token create|list|revoke` in-process on a throwaway SQLite file: arguments, usage errors (exit 2),
// refusals (exit 1), the output formats, and where secrets may appear.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../support/cli.js';
import { createTokenService, SqliteTokenStore, type TokenService } from '../../../src/index.js';


const dir = mkdtempSync(join(tmpdir(), 'tf-cli-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** A path for a new database file (not created). */
const freshDb = () => join(dir, `tokens-${files++}.db`);

/** A service over `file`, as a server would have; closed by the caller. */
const serviceOn = (file: string, pepper?: string): TokenService => createTokenService({ store: new SqliteTokenStore(file), pepper });

async function createJson(db: string, ...args: string[]): Promise<{ token: string; record: Record<string, unknown> }> {
  const r = await cli('token', 'create', '--sqlite', db, '--json', ...args);
  expect(r).toMatchObject({ code: 0 });
  return JSON.parse(r.out) as { token: string; record: Record<string, unknown> };
}

const RECORD_KEYS = ['createdAt', 'expiresAt', 'id', 'label', 'lastAccessed', 'lastAccessedIp', 'owner', 'restrictions', 'revokedAt', 'usageCount'];

describe('token create', () => {
  test('prints the secret once, on stdout, with its id and expiry; the token verifies on the same file', async () => {
    const db = freshDb();
    const r = await cli('token', 'create', '--sqlite', db, '--owner', 'alice', '--label', 'CI deploy', '--expires-in-days', '30');
    expect(r.code).toBe(0);
    const secret = /^(tfk_\w+)$/m.exec(r.out)?.[1];
    expect(secret).toBeDefined();
    expect(r.out.split(secret!)).toHaveLength(2);
    const id = /^Created token (\w{12}) for alice \("CI deploy"\)\.$/m.exec(r.out)?.[1];
    expect(secret!.slice(4, 16)).toBe(id);
    const expires = /expires: +(\S+)/.exec(r.out)![1]!;
    expect(Math.abs(Date.parse(expires.replace('Z', ':00Z')) - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000);
    expect(r.out).toMatch(/shown this once/);
    expect(r.err).toBe(`tokenfence: created a new token database at ${db}\n`);
    const tokens = serviceOn(db);
    await expect(tokens.verify(secret)).resolves.toMatchObject({ ok: true, user: 'alice' });
    await tokens.close();
  });

  test('--json prints { token, record } as one JSON object, the record without salt or hash', async () => {
    const db = freshDb();
    const r = await cli('token', 'create', '--sqlite', db, '--owner', 'bob', '--label', 'script', '--expires-at', '2099-01-31T18:00+02:00', '--json');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { token: string; record: Record<string, unknown> };
    expect(Object.keys(body).sort()).toEqual(['record', 'token']);
    expect(Object.keys(body.record).sort()).toEqual(RECORD_KEYS);
    expect(body.record).toMatchObject({ owner: 'bob', label: 'script', expiresAt: '2099-01-31T16:00:00.000Z', usageCount: 0, revokedAt: null });
    expect(body.token.slice(4, 16)).toBe(body.record.id);
    expect(r.err).not.toContain(body.token);
  });

  test('--any-user makes an owner-null token that works with Basic only', async () => {
    const db = freshDb();
    const r = await cli('token', 'create', '--sqlite', db, '--any-user', '--label', 'bot');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/for \(any user\)/);
    expect(r.out).toMatch(/HTTP Basic/);
    const secret = /^(tfk_\w+)$/m.exec(r.out)![1]!;
    const tokens = serviceOn(db);
    await expect(tokens.verify(secret, { username: 'carol' })).resolves.toMatchObject({ ok: true, user: 'carol', record: { owner: null } });
    await expect(tokens.verify(secret)).resolves.toEqual({ ok: false, reason: 'user_required' });
    await tokens.close();
  });

  test('restrictions from --restrictions or a file are stored canonical; lint warnings go to stderr and the token is made', async () => {
    const db = freshDb();
    const file = join(dir, 'rules.txt');
    writeFileSync(file, '# read issues\n[GET]/rest/api/2/issue/.*\n');
    expect((await createJson(db, '--owner', 'a', '--label', 'f', '--restrictions-file', file)).record.restrictions).toMatch(/^\[GET\]\/rest\/api\/2\/issue\/\.\*/m);
    const r = await cli('token', 'create', '--sqlite', db, '--owner', 'a', '--label', 't', '--restrictions', '[GET]/x\nrest/y', '--json');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^<text>:2:1 warning unmatchable_url /m);
    expect(JSON.parse(r.out)).toMatchObject({ record: { restrictions: expect.stringContaining('[GET]/x') } });
  });

  test('restrictions that do not parse: every error with line and column, exit 1, nothing created', async () => {
    const db = freshDb();
    await createJson(db, '--owner', 'a', '--label', 'first');
    const r = await cli('token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--restrictions', '/ok\n[FOO]/x\n[GET]/(');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^<text>:2:2 error unknown_method /m);
    expect(r.err).toMatch(/^<text>:3:\d+ error \w+ /m);
    expect(r.err).toMatch(/the restrictions have 2 errors; no token was created/);
    const file = join(dir, 'bad.rules');
    writeFileSync(file, '[FOO]/x\n');
    expect((await cli('token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--restrictions-file', file)).err).toContain(`${file}:1:2 error unknown_method`);
    expect(JSON.parse((await cli('token', 'list', '--sqlite', db, '--json')).out)).toHaveLength(1);
  });

  test('policy refusals are one line naming the limit, exit 1', async () => {
    const db = freshDb();
    await createJson(db, '--owner', 'someone-else', '--label', 'the database exists');
    const refused = async (...args: string[]) => {
      const r = await cli('token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', ...args);
      expect([r.code, r.out, r.err.split('\n').filter(Boolean).length]).toEqual([1, '', 1]);
      return r.err;
    };
    expect(await refused('--expires-in-days', '60', '--max-lifetime-days', '30')).toMatch(/^tokenfence token create: lifetime_exceeded: .*limit of 30 days \(policy\.maxLifetimeDays\)\n$/);
    expect(await refused('--require-expiry')).toMatch(/expiry_required: an expiry is required/);
    expect(await refused('--expires-at', '2001-01-01')).toMatch(/expiry_in_past: expiresAt must be in the future/);
    await createJson(db, '--owner', 'a', '--label', 'one', '--max-tokens-per-user', '1');
    expect(await refused('--max-tokens-per-user', '1')).toMatch(/quota_exceeded: a already has 1 live tokens; the limit is 1 \(policy\.maxTokensPerUser\)/);
    // --default-lifetime-days gives a token without an expiry one.
    const { record } = await createJson(db, '--owner', 'b', '--label', 'x', '--default-lifetime-days', '7');
    expect(Date.parse(record.expiresAt as string) - Date.parse(record.createdAt as string)).toBe(7 * 86_400_000);
  });

  test('TOKENFENCE_PEPPER: a token verifies only with the same pepper; a short one is refused without being shown', async () => {
    const db = freshDb();
    const pepper = 'a-pepper-of-32-bytes-0123456789ab';
    process.env.TOKENFENCE_PEPPER = pepper;
    try {
      const { token } = await createJson(db, '--owner', 'a', '--label', 'peppered');
      const withPepper = serviceOn(db, pepper);
      const without = serviceOn(db);
      await expect(withPepper.verify(token)).resolves.toMatchObject({ ok: true });
      await expect(without.verify(token)).resolves.toEqual({ ok: false, reason: 'unknown' });
      await withPepper.close();
      await without.close();
      process.env.TOKENFENCE_PEPPER = 'short-secret';
      const r = await cli('token', 'list', '--sqlite', db);
      expect(r).toMatchObject({ code: 2, out: '', err: 'tokenfence: TOKENFENCE_PEPPER must be at least 16 bytes (the value is not repeated here)\n' });
    } finally {
      delete process.env.TOKENFENCE_PEPPER;
    }
  });

  test('--prefix issues tokens a server with that prefix accepts', async () => {
    const db = freshDb();
    const { token } = await createJson(db, '--owner', 'a', '--label', 'x', '--prefix', 'acme_');
    expect(token).toMatch(/^acme_/);
    const tokens = createTokenService({ store: new SqliteTokenStore(db), prefix: 'acme_' });
    await expect(tokens.verify(token)).resolves.toMatchObject({ ok: true });
    await tokens.close();
  });
});

describe('token list', () => {
  const db = freshDb();
  let ids: string[];
  beforeAll(async () => {
    ids = [
      (await createJson(db, '--owner', 'alice', '--label', 'CI', '--expires-in-days', '30')).record.id as string,
      (await createJson(db, '--owner', 'bob', '--label', 'evil\u001b[2J\u202elabel')).record.id as string,
      (await createJson(db, '--any-user', '--label', 'bot')).record.id as string,
    ];
    const tokens = serviceOn(db);
    await tokens.revoke(ids[2]!);
    await tokens.close();
  });

  test('a table: id, owner, label, created, last used, expires, uses, revoked; labels made safe for a terminal', async () => {
    const r = await cli('token', 'list', '--sqlite', db);
    expect(r).toMatchObject({ code: 0, err: '' });
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]!.split(/ {2,}/)).toEqual(['ID', 'OWNER', 'LABEL', 'CREATED', 'LAST USED', 'EXPIRES', 'USES', 'REVOKED']);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(new RegExp(`^${ids[0]} +alice +CI +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ +never +\\d{4}-.*Z +0 +-$`));
    expect(lines[2]).toContain('evil?[2J?label');
    expect(r.out).not.toMatch(/[\u001b\u202e]/);
    expect(lines[3]).toMatch(new RegExp(`^${ids[2]} +\\(any user\\) +bot .* never +0 +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ$`));
    // --all is the default, said explicitly.
    expect((await cli('token', 'list', '--sqlite', db, '--all')).out).toBe(r.out);
  });

  test('--json: an array of records, never a secret, salt or hash', async () => {
    const r = await cli('token', 'list', '--sqlite', db, '--json');
    expect(r.code).toBe(0);
    const records = JSON.parse(r.out) as Record<string, unknown>[];
    expect(records.map((x) => x.id)).toEqual(ids);
    for (const record of records) expect(Object.keys(record).sort()).toEqual(RECORD_KEYS);
    expect(r.out).not.toMatch(/salt|hash|tfk_/);
  });

  test('--owner and --any-user filter; an empty list says so', async () => {
    expect(JSON.parse((await cli('token', 'list', '--sqlite', db, '--owner', 'bob', '--json')).out)).toEqual([expect.objectContaining({ id: ids[1], owner: 'bob' })]);
    expect(JSON.parse((await cli('token', 'list', '--sqlite', db, '--any-user', '--json')).out)).toEqual([expect.objectContaining({ id: ids[2], owner: null })]);
    expect(await cli('token', 'list', '--sqlite', db, '--owner', 'nobody')).toMatchObject({ code: 0, out: 'no tokens\n' });
    expect(await cli('token', 'list', '--sqlite', db, '--owner', 'nobody', '--json')).toMatchObject({ code: 0, out: '[]\n' });
  });
});

describe('token revoke', () => {
  test('revokes by id with a line, exit 0; again says it already was; the token stops verifying', async () => {
    const db = freshDb();
    const { token, record } = await createJson(db, '--owner', 'alice', '--label', 'CI');
    const r = await cli('token', 'revoke', record.id as string, '--sqlite', db);
    expect(r).toEqual({ code: 0, out: `revoked token ${record.id} of alice ("CI")\n`, err: '' });
    expect((await cli('token', 'revoke', record.id as string, '--sqlite', db)).out).toMatch(new RegExp(`^token ${record.id} was already revoked at \\d{4}-`));
    const json = JSON.parse((await cli('token', 'revoke', record.id as string, '--sqlite', db, '--json')).out) as { record: { revokedAt: string }; alreadyRevoked: boolean };
    expect(json).toMatchObject({ alreadyRevoked: true, record: { id: record.id, revokedAt: expect.any(String) } });
    const tokens = serviceOn(db);
    await expect(tokens.verify(token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    await tokens.close();
  });

  test('an unknown id is exit 1; a whole token passed by mistake is not repeated', async () => {
    const db = freshDb();
    const { token } = await createJson(db, '--owner', 'alice', '--label', 'CI');
    expect(await cli('token', 'revoke', 'AAAAAAAAAAAA', '--sqlite', db)).toEqual({ code: 1, out: '', err: 'tokenfence token revoke: not_found: no token with id "AAAAAAAAAAAA"\n' });
    const r = await cli('token', 'revoke', token, '--sqlite', db);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/looks like a whole token/);
    expect(r.err + r.out).not.toContain(token.slice(16));
  });

  test('--owner guards against revoking another user\'s token; --all --owner revokes every live token of one user', async () => {
    const db = freshDb();
    const a1 = (await createJson(db, '--owner', 'alice', '--label', '1')).record.id as string;
    await createJson(db, '--owner', 'alice', '--label', '2');
    const b1 = (await createJson(db, '--owner', 'bob', '--label', '3')).record.id as string;
    const refused = await cli('token', 'revoke', b1, '--owner', 'alice', '--sqlite', db);
    expect(refused).toMatchObject({ code: 1, err: `tokenfence token revoke: token ${b1} belongs to bob, not alice; nothing was revoked\n` });
    expect((await cli('token', 'revoke', a1, '--owner', 'alice', '--sqlite', db)).code).toBe(0);
    expect(await cli('token', 'revoke', '--all', '--owner', 'alice', '--sqlite', db)).toMatchObject({ code: 0, out: 'revoked 1 token of alice\n' });
    expect(await cli('token', 'revoke', '--all', '--owner', 'alice', '--sqlite', db, '--json')).toMatchObject({ code: 0, out: '{\n  "owner": "alice",\n  "revoked": 0\n}\n' });
    const records = JSON.parse((await cli('token', 'list', '--sqlite', db, '--json')).out) as { owner: string; revokedAt: string | null }[];
    expect(records.map((x) => [x.owner, x.revokedAt !== null])).toEqual([['alice', true], ['alice', true], ['bob', false]]);
  });
});

describe('usage errors exit 2, as for the other commands', () => {
  const db = freshDb();
  beforeAll(() => createJson(db, '--owner', 'a', '--label', 'x'));

  test.each([
    ['no store', ['token', 'list'], /exactly one of --sqlite <file> or --pg <url>/],
    ['both stores', ['token', 'list', '--sqlite', db, '--pg', 'postgres://u@h/d'], /'--sqlite <file>' cannot be used with option '--pg <url>'/],
    ['no owner', ['token', 'create', '--sqlite', db, '--label', 'x'], /--owner <name>, or --any-user/],
    ['--owner with --any-user', ['token', 'create', '--sqlite', db, '--owner', 'a', '--any-user', '--label', 'x'], /cannot be used with/],
    ['no label', ['token', 'create', '--sqlite', db, '--owner', 'a'], /required option '--label <text>' not specified/],
    ['two expiries', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--expires-in-days', '1', '--expires-at', '2099-01-01'], /cannot be used with/],
    ['two restriction sources', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--restrictions', '/x', '--restrictions-file', 'f'], /cannot be used with/],
    ['a fractional day count', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--expires-in-days', '1.5'], /--expires-in-days must be a whole number from 1 to 36500/],
    ['a date-time without a zone', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--expires-at', '2099-01-01T10:00'], /add Z \(UTC\) or an offset/],
    ['not a date', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--expires-at', 'tomorrow'], /not an ISO 8601 date/],
    ['an unknown flag', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--pepper', 'p'], /unknown option '--pepper'/],
    ['a missing restrictions file', ['token', 'create', '--sqlite', db, '--owner', 'a', '--label', 'x', '--restrictions-file', join(dir, 'none.rules')], /cannot read .*none\.rules: no such file/],
    ['--owner and --all on list', ['token', 'list', '--sqlite', db, '--owner', 'a', '--all'], /cannot be used with/],
    ['revoke without an id', ['token', 'revoke', '--sqlite', db], /give the id of the token to revoke, or --all --owner <name>/],
    ['revoke --all without an owner', ['token', 'revoke', '--all', '--sqlite', db], /--all revokes every token of one user/],
    ['revoke an id and --all', ['token', 'revoke', 'AAAAAAAAAAAA', '--all', '--owner', 'a', '--sqlite', db], /a token id or --all, not both/],
    ['--pg-table without --pg', ['token', 'list', '--sqlite', db, '--pg-table', 't'], /--pg-table goes with --pg/],
    ['no subcommand', ['token'], /Usage: tokenfence token/],
  ])('%s', async (_name, argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
  });

  test('a --pg value that is not a PostgreSQL URL is refused without repeating it (it may hold a password)', async () => {
    const r = await cli('token', 'list', '--pg', 'postgress://admin:hunter2secret@db/tokens');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--pg must be a URL such as postgres:\/\//);
    expect(r.err).not.toContain('hunter2secret');
  });

  test('list and revoke on a SQLite file that does not exist: exit 2, and no file is created', async () => {
    const missing = join(dir, 'missing.db');
    for (const argv of [['token', 'list', '--sqlite', missing], ['token', 'revoke', 'AAAAAAAAAAAA', '--sqlite', missing]]) {
      expect(await cli(...argv)).toEqual({ code: 2, out: '', err: `tokenfence: cannot read ${missing}: no such file\n` });
    }
    expect(existsSync(missing)).toBe(false);
  });

  test('a file that is not a token database is a one-line error, exit 2', async () => {
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not a database, it is a text file long enough to have a header of its own');
    const r = await cli('token', 'list', '--sqlite', junk);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toMatch(/^tokenfence: cannot open the token database .*junk\.db: /);
  });

  test('--pg without the pg package installed: one line saying to install it, exit 2', async () => {
    jest.doMock('pg', () => {
      throw Object.assign(new Error("Cannot find module 'pg' from 'src/cli/token.ts'"), { code: 'MODULE_NOT_FOUND' });
    });
    try {
      expect(await cli('token', 'list', '--pg', 'postgres://u@127.0.0.1:1/db')).toEqual({ code: 2, out: '', err: 'tokenfence: --pg needs the pg package, which is not installed: run npm install pg\n' });
    } finally {
      jest.dontMock('pg');
    }
  });

  test('the help says the pepper comes from TOKENFENCE_PEPPER and why, and offers no --pepper flag', async () => {
    for (const sub of ['create', 'list', 'revoke']) {
      const r = await cli('token', sub, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/TOKENFENCE_PEPPER +the server's pepper/);
      expect(r.out).toMatch(/never verifies on that server/);
      expect(r.out).toMatch(/never from a flag: command lines show\s+in `ps`/);
      expect(r.out).not.toMatch(/--pepper/);
    }
    expect((await cli('--help')).out).toMatch(/token +create, list and revoke API tokens/);
  });
});
