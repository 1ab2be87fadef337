// A process that issues tokens into the SQLite store is SIGKILLed mid-way: every token whose issue()
// resolved (and was printed) must still verify after reopening, and the database must be intact.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createTokenService, SqliteTokenStore } from '../../src/index.js';

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tf-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = `
const { createTokenService, SqliteTokenStore } = require(${JSON.stringify(join(root, 'dist', 'cjs', 'index.js'))});
const tokens = createTokenService({ store: new SqliteTokenStore(process.argv[2]), usageFlushMs: 1 });
(async () => {
  for (let i = 0; ; i++) {
    const { token } = await tokens.issue({ owner: 'user' + (i % 7), label: 'token ' + i, restrictions: '[GET]/rest/x' });
    await tokens.verify(token);
    process.stdout.write(token + '\\n');
  }
})();
`;

test('every acknowledged token survives SIGKILL; the database passes integrity_check', async () => {
  const script = join(dir, 'child.js');
  const file = join(dir, 'tokens.db');
  writeFileSync(script, CHILD);
  const child = spawn(process.execPath, [script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acknowledged: string[] = [];
  let buffer = '';
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`only ${acknowledged.length} tokens in 20 s`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      acknowledged.push(...lines);
      if (acknowledged.length >= 200 && child.exitCode === null && !child.killed) {
        child.kill('SIGKILL');
        clearTimeout(timer);
      }
    });
    child.on('exit', () => done());
  });
  expect(child.signalCode).toBe('SIGKILL');
  expect(acknowledged.length).toBeGreaterThanOrEqual(200);

  const raw = new Database(file);
  expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
  raw.close();
  const tokens = createTokenService({ store: new SqliteTokenStore(file) });
  for (const t of acknowledged) {
    const result = await tokens.verify(t);
    expect(result.ok ? 'ok' : result.reason).toBe('ok');
  }
  await tokens.close();
});

// Several processes open one new file at the same moment (app instances and the CLI starting together):
// switching to WAL and migrating must neither fail with SQLITE_BUSY nor run a migration twice.
const OPENER = `
const { SqliteTokenStore } = require(${JSON.stringify(join(root, 'dist', 'cjs', 'index.js'))});
const at = Number(process.argv[3]);
while (Date.now() < at) {} // all start at once
try {
  new SqliteTokenStore(process.argv[2]).close();
  process.stdout.write('ok');
} catch (err) {
  process.stdout.write('FAIL ' + err.code + ' ' + err.message);
}
`;

test('processes that open one new file at the same moment all succeed (WAL switch and migration under contention)', async () => {
  const script = join(dir, 'opener.js');
  writeFileSync(script, OPENER);
  const outcomes: string[] = [];
  for (let round = 0; round < 4; round++) {
    const file = join(dir, `fresh-${round}.db`);
    const at = Date.now() + 1_000;
    const runs = Array.from(
      { length: 6 },
      () =>
        new Promise<string>((done) => {
          const child = spawn(process.execPath, [script, file, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
          child.on('exit', () => {
            clearTimeout(timer);
            done(out);
          });
        }),
    );
    outcomes.push(...(await Promise.all(runs)));
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBeGreaterThan(0);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  }
  expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  expect(outcomes).toHaveLength(24);
}, 60_000);
