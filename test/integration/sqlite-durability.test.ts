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
