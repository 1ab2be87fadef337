// Section "tokens": verify() µs/op — offline part (parse + checksum + hash), memory store, SQLite with
// 1,000 and 1,000,000 tokens, and PostgreSQL (embedded, or TOKENFENCE_PG_URL). One process, one run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare, fmtUs, markdownTable, summarize } from './harness.mjs';

const require = createRequire(import.meta.url);
const { createTokenService, MemoryTokenStore, SqliteTokenStore, PostgresTokenStore } = require('../dist/cjs/index.js');
const { parseToken } = require('../dist/cjs/tokens/format.js');
const { SecretHasher } = require('../dist/cjs/tokens/hash.js');
const Database = require('better-sqlite3');
const pg = require('pg');

const here = dirname(fileURLToPath(import.meta.url));
const GOALS = { offlineUs: 10, sqliteMillionUs: 50, sqliteRatio: 2 };

/** Median µs per awaited call: batches of about 5 ms, bounded by count and time. */
async function timeAsync(fn, { maxMs = 2000, minBatches = 20, maxBatches = 200 } = {}) {
  let ops = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) await fn();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 5e6 || ops >= 100_000) break;
    ops *= 2;
  }
  const samples = [];
  const start = Date.now();
  for (let b = 0; b < maxBatches && (b < minBatches || Date.now() - start < maxMs); b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000 / ops);
    if (Date.now() - start > 3 * maxMs) break;
  }
  return summarize(samples);
}

/** Fills a SQLite file with `count` tokens straight through SQL (the service would fsync each one). */
function bulkFill(file, count) {
  const store = new SqliteTokenStore(file);
  store.close();
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO tokens (id, owner, label, created_at, expires_at, last_accessed, last_accessed_ip, usage_count, restrictions, revoked_at, salt, hash)
     VALUES (?, ?, 'bulk', ?, NULL, NULL, NULL, 0, '', NULL, ?, ?)`,
  );
  const now = Date.now();
  const fill = db.transaction((n, offset) => {
    for (let i = 0; i < n; i++) {
      const r = randomBytes(40);
      insert.run(r.subarray(0, 9).toString('base64url'), `user${(offset + i) % 50_000}`, now, r.subarray(9, 25).toString('base64url'), r.subarray(25, 40).toString('base64url'));
    }
  });
  for (let done = 0; done < count; done += 50_000) fill(Math.min(50_000, count - done), done);
  db.close();
}

async function startPostgres() {
  if (process.env.TOKENFENCE_PG_URL) return { url: process.env.TOKENFENCE_PG_URL, stop: async () => undefined };
  const child = spawn(process.execPath, [join(here, '..', 'test', 'support', 'postgres-server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).url);
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with ${code}`)));
  });
  return { url, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))) };
}

/** A service on `store` holding one real token to verify (plus whatever the store already has). */
async function contender(store, recordCacheMs = 0) {
  // recordCacheMs 0: every verify reads the store, which is what this section measures (the cached path
  // has a row of its own).
  const tokens = createTokenService({ store, recordCacheMs });
  const { token } = await tokens.issue({ owner: 'bench', label: 'bench', restrictions: '[GET]/rest/api/2/issue/.*' });
  const first = await tokens.verify(token);
  if (!first.ok) throw new Error(`tokens bench aborted: the bench token does not verify (${first.reason})`);
  return { tokens, verify: () => tokens.verify(token, { ip: '127.0.0.1' }) };
}

export async function run({ log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tf-bench-tokens-'));
  const rows = [];
  try {
    log('tokens: offline parse + checksum + hash');
    const hasher = new SecretHasher();
    const { token } = await (await contender(new MemoryTokenStore())).tokens.issue({ owner: 'x', label: 'x' });
    const parsed = parseToken(token, 'tfk_');
    const stored = hasher.hash(parsed.secret);
    const [offline] = compare([{ name: 'offline', fn: () => hasher.matches(parseToken(token, 'tfk_').secret, stored) }], { maxMs: 1000 });
    rows.push({ label: 'parse + checksum + hash (no store)', s: offline });

    log('tokens: memory store');
    const memory = await contender(new MemoryTokenStore());
    rows.push({ label: 'verify, MemoryTokenStore', s: await timeAsync(memory.verify) });
    await memory.tokens.close();

    log('tokens: SQLite, 1,000 tokens');
    const small = join(dir, 'small.db');
    bulkFill(small, 1000);
    const sqliteSmall = await contender(new SqliteTokenStore(small));
    const smallStats = await timeAsync(sqliteSmall.verify);
    rows.push({ label: 'verify, SqliteTokenStore, 1,000 tokens', s: smallStats });
    await sqliteSmall.tokens.close();
    const cachedSmall = await contender(new SqliteTokenStore(small), 500);
    rows.push({ label: 'verify, SqliteTokenStore, repeat within recordCacheMs (the default 500 ms)', s: await timeAsync(cachedSmall.verify) });
    await cachedSmall.tokens.close();

    log('tokens: SQLite, filling 1,000,000 tokens');
    const large = join(dir, 'large.db');
    const filled = Date.now();
    bulkFill(large, 1_000_000);
    log(`tokens: filled in ${((Date.now() - filled) / 1000).toFixed(1)} s`);
    const sqliteLarge = await contender(new SqliteTokenStore(large));
    const largeStats = await timeAsync(sqliteLarge.verify);
    rows.push({ label: 'verify, SqliteTokenStore, 1,000,000 tokens', s: largeStats });
    await sqliteLarge.tokens.close();

    log('tokens: PostgreSQL');
    const server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 4 });
    try {
      const table = `tf_bench_${process.pid}`;
      const postgres = await contender(new PostgresTokenStore(pool, { table }));
      rows.push({ label: 'verify, PostgresTokenStore (loopback, 1 connection at a time)', s: await timeAsync(postgres.verify, { maxMs: 3000 }) });
      await postgres.tokens.close();
      await pool.query(`DROP TABLE ${table}; DROP TABLE ${table}_schema`);
    } finally {
      await pool.end();
      await server.stop();
    }

    const ratio = largeStats.median / smallStats.median;
    const goals = [
      { text: `parse + checksum + hash ≤ ${GOALS.offlineUs} µs`, value: `${fmtUs(offline.median)} µs`, pass: offline.median <= GOALS.offlineUs },
      { text: `SQLite verify ≤ ${GOALS.sqliteMillionUs} µs at 1,000,000 tokens`, value: `${fmtUs(largeStats.median)} µs`, pass: largeStats.median <= GOALS.sqliteMillionUs },
      { text: `SQLite at 1,000,000 tokens within ${GOALS.sqliteRatio}× of 1,000 tokens`, value: `${ratio.toFixed(2)}×`, pass: ratio <= GOALS.sqliteRatio },
    ];
    const markdown = [
      '## tokens — verify() per call',
      '',
      markdownTable(
        ['what', 'median µs', 'p25–p75 µs'],
        rows.map((r) => [r.label, fmtUs(r.s.median), `${fmtUs(r.s.p25)}–${fmtUs(r.s.p75)}`]),
        ['l', 'r', 'r'],
      ),
      '',
      '**Goals**',
      '',
      ...goals.map((g) => `- ${g.pass ? 'PASS' : 'FAIL'} — ${g.text}: ${g.value}`),
      '',
      'verify() is awaited call after call, with recordCacheMs 0 except in the row that says otherwise: parse and',
      'checksum (offline), one store read by id, the salted SHA-256',
      'compared in constant time, policy checks, the compiled restrictions from the cache, and the use recorded',
      '(written in batches every second). SQLite runs with WAL and synchronous=FULL; the 1,000,000 tokens are',
      'bulk-loaded through SQL first. PostgreSQL is a local embedded server unless TOKENFENCE_PG_URL is set.',
      `Node ${process.version}, ${process.platform}/${process.arch}.`,
    ].join('\n');
    return { markdown, goals };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
