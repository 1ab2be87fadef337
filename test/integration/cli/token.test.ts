// `tokenfence token` as users run it — the built binary, spawned — on a real SQLite file and a real PostgreSQL,
// beside a running Express server on the same store: create, list, revoke, refusals, and a revocation the
// server refuses within 1 s (SPEC §4, §10).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import express from 'express';
import pg from 'pg';
import { createTokenService, PostgresTokenStore, SqliteTokenStore, tokenGuard, type TokenService, type TokenStore } from '../../../src/index.js';
import { basic, listen } from '../../support/http.js';
import { startPostgres, type TestPostgres } from '../../support/postgres.js';

jest.setTimeout(60_000);

const root = resolve(__dirname, '..', '..', '..');
const BIN = join(root, 'dist', 'cjs', 'cli', 'bin.js');

beforeAll(() => {
  // npm test builds dist before jest; a bare `npx jest` needs `npm run build` first.
  if (!existsSync(BIN) || !existsSync(join(root, 'dist', 'cjs', 'cli', 'token.js'))) {
    throw new Error(`${BIN} (with the token command) is missing: run \`npm run build\` first (\`npm test\` does it before jest)`);
  }
});

interface CliResult {
  code: number | null;
  out: string;
  err: string;
  /** performance.now() when the process exited: the revocation was committed before. */
  exitedAt: number;
}

/** Runs the real `tokenfence` binary; a process that does not exit within 20 s fails the test (the CLI must not hang). */
function tokenfence(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TOKENFENCE_PEPPER: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let exitedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`tokenfence ${args.slice(0, 2).join(' ')} did not exit within 20 s: the CLI hangs`));
    }, 20_000);
    child.once('exit', () => (exitedAt = performance.now()));
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err, exitedAt });
    });
    child.once('error', fail);
  });
}

/** A token store and how the CLI names it. */
interface Backend {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** The CLI's store flags. */
  args(): string[];
  /** A store over the same data, for a server. */
  store(): TokenStore;
}

const dir = mkdtempSync(join(tmpdir(), 'tf-cli-int-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqlite: Backend = (() => {
  const file = join(dir, 'tokens.db');
  return {
    name: 'a SQLite file',
    setUp: async () => undefined,
    tearDown: async () => undefined,
    args: () => ['--sqlite', file],
    store: () => new SqliteTokenStore(file),
  };
})();

const postgres: Backend = (() => {
  let server: TestPostgres | undefined;
  let pool: pg.Pool | undefined;
  const table = `tf_cli_${process.pid}`;
  return {
    name: 'PostgreSQL',
    async setUp() {
      server = await startPostgres();
      pool = new pg.Pool({ connectionString: server.url, max: 4 });
      pool.on('error', () => undefined);
    },
    async tearDown() {
      await pool?.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_schema`).catch(() => undefined);
      await pool?.end();
      await server?.stop();
    },
    args: () => ['--pg', server!.url, '--pg-table', table],
    store: () => new PostgresTokenStore(pool!, { table }),
  };
})();

describe.each([sqlite, postgres])('tokenfence token on $name', (backend: Backend) => {
  beforeAll(() => backend.setUp());
  afterAll(() => backend.tearDown());

  const cli = (args: readonly string[], env?: NodeJS.ProcessEnv) => tokenfence(['token', ...args, ...backend.args()], env);
  const createJson = async (...args: string[]): Promise<{ token: string; record: { id: string; owner: string | null } }> => {
    const r = await cli(['create', '--json', ...args]);
    expect([r.code, r.err.replace(/^tokenfence: created a new token database at .*\n/, '')]).toEqual([0, '']);
    return JSON.parse(r.out) as { token: string; record: { id: string; owner: string | null } };
  };

  /** A running app with tokenGuard on a token service over the same store as the CLI. */
  async function startServer(options: { pepper?: string } = {}): Promise<{ url: string; tokens: TokenService; close(): Promise<void> }> {
    const tokens = createTokenService({ store: backend.store(), usageFlushMs: 5, pepper: options.pepper });
    const app = express();
    app.use(tokenGuard({ tokens }));
    app.get('/rest/api/2/myself', (req, res) => {
      res.json({ name: req.tokenfence?.user });
    });
    const server = await listen(app);
    return {
      url: `http://127.0.0.1:${server.port}/rest/api/2/myself`,
      tokens,
      close: async () => {
        await server.close();
        await tokens.close();
      },
    };
  }
  const call = async (url: string, authorization: string) => {
    const r = await fetch(url, { headers: { authorization } });
    return { status: r.status, body: (await r.json()) as { name?: string; error?: { code: string } } };
  };

  test('create prints the secret once; the token works on the running server; list shows it with its usage', async () => {
    const server = await startServer();
    try {
      const r = await cli(['create', '--owner', 'alice', '--label', 'CI deploy', '--expires-in-days', '30', '--restrictions', '[GET]/rest/api/2/myself']);
      expect(r.code).toBe(0);
      const secret = /^(tfk_\w+)$/m.exec(r.out)![1]!;
      expect(r.err).not.toContain(secret);
      const id = secret.slice(4, 16);
      expect(await call(server.url, `Bearer ${secret}`)).toEqual({ status: 200, body: { name: 'alice' } });

      const anyUser = await createJson('--any-user', '--label', 'bot');
      expect(anyUser.record.owner).toBeNull();
      expect(await call(server.url, basic('carol', anyUser.token))).toEqual({ status: 200, body: { name: 'carol' } });
      expect(await call(server.url, `Bearer ${anyUser.token}`)).toMatchObject({ status: 401, body: { error: { code: 'user_required' } } });

      // The server writes usage every 5 ms; the CLI reads it from the store.
      let records: Record<string, unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const list = await cli(['list', '--json']);
        expect(list.code).toBe(0);
        expect(list.out).not.toMatch(/tfk_|salt|hash/);
        records = JSON.parse(list.out) as Record<string, unknown>[];
        if (records.find((x) => x.id === id)?.usageCount === 1) break;
        await new Promise((w) => setTimeout(w, 50));
      }
      expect(records.find((x) => x.id === id)).toMatchObject({ owner: 'alice', label: 'CI deploy', usageCount: 1, lastAccessed: expect.any(String), revokedAt: null });
      expect(records.find((x) => x.id === anyUser.record.id)).toMatchObject({ owner: null, label: 'bot' });

      const table = await cli(['list', '--owner', 'alice']);
      expect(table.code).toBe(0);
      const lines = table.out.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID +OWNER +LABEL +CREATED +LAST USED +EXPIRES +USES +REVOKED$/);
      expect(lines.find((l) => l.startsWith(id))).toMatch(/ alice +CI deploy +\S+Z +\S+Z +\S+Z +1 +-$/);
      expect(table.out).not.toContain(anyUser.record.id);
    } finally {
      await server.close();
    }
  });

  test('a revocation from the CLI is refused by the running server within 1 s', async () => {
    const server = await startServer();
    try {
      const { token, record } = await createJson('--owner', 'bob', '--label', 'to revoke');
      expect(await call(server.url, `Bearer ${token}`)).toEqual({ status: 200, body: { name: 'bob' } });
      // Calls run all along, so the server holds the token's row in its cache when the CLI revokes it.
      let stop = false;
      let ok = 0;
      const refused = (async () => {
        while (!stop) {
          const r = await call(server.url, `Bearer ${token}`);
          if (r.status !== 200) return { ...r, at: performance.now() };
          ok++;
        }
        return undefined;
      })();
      await new Promise((w) => setTimeout(w, 100));
      const revoked = await cli(['revoke', record.id]);
      expect(revoked).toMatchObject({ code: 0, out: `revoked token ${record.id} of bob ("to revoke")\n`, err: '' });
      const timeout = setTimeout(() => (stop = true), 3000);
      const first = await refused;
      clearTimeout(timeout);
      expect(ok).toBeGreaterThan(0);
      expect(first).toMatchObject({ status: 401, body: { error: { code: 'revoked' } } });
      expect(first!.at - revoked.exitedAt).toBeLessThan(1000);
    } finally {
      await server.close();
    }
  });

  test('TOKENFENCE_PEPPER: a token made with the server\'s pepper works there; one made without it does not', async () => {
    const pepper = 'integration-pepper-0123456789abcdef';
    const server = await startServer({ pepper });
    try {
      const r = await cli(['create', '--owner', 'dave', '--label', 'peppered', '--json'], { TOKENFENCE_PEPPER: pepper });
      expect(r.code).toBe(0);
      expect(r.err).not.toContain(pepper);
      expect(await call(server.url, `Bearer ${(JSON.parse(r.out) as { token: string }).token}`)).toEqual({ status: 200, body: { name: 'dave' } });
      const plain = await createJson('--owner', 'dave', '--label', 'no pepper');
      expect(await call(server.url, `Bearer ${plain.token}`)).toMatchObject({ status: 401, body: { error: { code: 'unknown' } } });
    } finally {
      await server.close();
    }
  });

  test('refusals exit 1: a policy limit (one line naming it), restrictions that do not parse (line and column), an unknown id', async () => {
    const policy = await cli(['create', '--owner', 'erin', '--label', 'long', '--expires-in-days', '90', '--max-lifetime-days', '30']);
    expect(policy).toMatchObject({ code: 1, out: '', err: 'tokenfence token create: lifetime_exceeded: the lifetime is over the limit of 30 days (policy.maxLifetimeDays)\n' });
    await createJson('--owner', 'erin', '--label', 'one', '--max-tokens-per-user', '1');
    const quota = await cli(['create', '--owner', 'erin', '--label', 'two', '--max-tokens-per-user', '1']);
    expect(quota).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^tokenfence token create: quota_exceeded: erin already has 1 live tokens; the limit is 1 \(policy\.maxTokensPerUser\)\n$/) });

    const bad = await cli(['create', '--owner', 'erin', '--label', 'bad', '--restrictions', '[GET]/ok\n[FOO]/x']);
    expect(bad).toMatchObject({ code: 1, out: '' });
    expect(bad.err).toMatch(/^<text>:2:2 error unknown_method /m);
    const unknown = await cli(['revoke', 'AAAAAAAAAAAA']);
    expect(unknown).toMatchObject({ code: 1, out: '', err: 'tokenfence token revoke: not_found: no token with id "AAAAAAAAAAAA"\n' });
    const erin = JSON.parse((await cli(['list', '--owner', 'erin', '--json'])).out) as { label: string }[];
    expect(erin.map((x) => x.label)).toEqual(['one']);
  });

  test('revoke --all --owner revokes every live token of one user; usage errors exit 2', async () => {
    await createJson('--owner', 'frank', '--label', '1');
    await createJson('--owner', 'frank', '--label', '2');
    expect(await cli(['revoke', '--all', '--owner', 'frank'])).toMatchObject({ code: 0, out: 'revoked 2 tokens of frank\n' });
    const usage = await cli(['create', '--label', 'x', '--frobnicate']);
    expect(usage).toMatchObject({ code: 2, out: '' });
    expect(usage.err).toMatch(/unknown option '--frobnicate'/);
  });
});
