// One server of the "http" benchmark section, run as a child process (`child_process.fork`) so that the
// server and autocannon (in the bench process) never share an event loop.
//
//   node bench/http-server.mjs <kind> <tempdir>      kind: bare | tokenfence | passport | jwt | a diagnosis variant
//
// Every kind is the same Express 5 app answering `GET /rest/api/2/issue/KANBAN-100` with a small JSON body;
// they differ only in the authentication in front of it. The child listens on a free port on 127.0.0.1
// and sends `{ type: 'ready', port, authorization, ... }` over IPC (the Authorization header value to use).
//
// IPC messages it answers:
//   { type: 'cpu' }       → { type: 'cpu', usage: process.cpuUsage(), at: hrtime ns }  (server CPU per run)
//   { type: 'shutdown' }  → closes the server, the token service and the audit log, then
//                           { type: 'closed', auditLines } (tokenfence: lines in the audit file) and exits.
//
// A request with the header `x-bench-check: 1` gets the deciding detail in the body (for tokenfence the
// restriction line that allowed it), so the bench process can check the setup before it measures.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { serveForParent } from './servers.mjs';

const require = createRequire(import.meta.url);
const express = require('express');

const [kind, dir] = process.argv.slice(2);
const ISSUE_PATH = '/rest/api/2/issue/KANBAN-100';

/** The 10 restriction lines of the tokenfence token; the benchmark request matches only the last one. */
const RESTRICTIONS = [
  '[GET]/rest/api/2/project/P1/.*',
  '[GET]/rest/api/2/project/P2/.*',
  '[POST]/rest/api/2/issue/ABC-\\d+/comment',
  '[GET]/rest/api/2/search[QueryParam::jql==project = ABC]',
  '[PUT]/rest/api/2/issue/ABC-\\d+',
  '[GET]/rest/api/2/filter/\\d+',
  '[GET]/rest/agile/1\\.0/board/\\d+/sprint',
  '[POST]/rest/api/2/issue/KANBAN-\\d+/comment[JsonData::visibility.type==role]',
  '[GET,PUT]/rest/api/2/user/properties/.*',
  '[GET]/rest/api/2/issue/KANBAN-\\d+',
].join('\n');

/** The shared app: the same route, body and settings for every kind. */
function issueApp(auth, userOf, checkOf) {
  const app = express();
  for (const mw of auth) app.use(mw);
  app.get(ISSUE_PATH, (req, res) => {
    const body = { key: 'KANBAN-100', fields: { summary: 'Benchmark issue', status: 'Open' }, user: userOf(req) };
    if (req.headers['x-bench-check'] === '1') body.check = checkOf(req);
    res.json(body);
  });
  return app;
}

async function tokenfenceKind(variant) {
  const { createTokenService, SqliteTokenStore, MemoryTokenStore, tokenGuard, createAuditLog, JsonLinesSink } = require('../dist/cjs/index.js');
  const auditFile = join(dir, 'audit.jsonl');
  const audit = variant.audit ? createAuditLog([new JsonLinesSink(auditFile)]) : undefined;
  const store = variant.store === 'sqlite' ? new SqliteTokenStore(join(dir, 'tokens.db')) : new MemoryTokenStore();
  const tokens = createTokenService(variant.recordCacheMs === undefined ? { store } : { store, recordCacheMs: variant.recordCacheMs });
  const { token } = await tokens.issue({ owner: 'bench', label: 'bench', restrictions: RESTRICTIONS });
  const guard = tokenGuard(audit ? { tokens, audit, required: true } : { tokens, required: true });
  const app = issueApp(
    [guard],
    (req) => req.tokenfence?.user ?? null,
    (req) => ({ line: req.tokenfence?.line }),
  );
  return {
    app,
    authorization: `Bearer ${token}`,
    detail: { restrictions: RESTRICTIONS },
    async close() {
      await tokens.close();
      if (!audit) return {};
      await audit.close();
      let auditLines = 0;
      try {
        auditLines = readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '').length;
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
      return { auditLines };
    },
  };
}

/** Each kind: { app, authorization, close(): Promise<object> } */
const kinds = {
  async bare() {
    return { app: issueApp([], () => null, () => null), authorization: undefined, close: async () => ({}) };
  },

  // Diagnosis variants (BENCH_HTTP_VARIANTS=1): the floor any middleware pays — one that only calls next(),
  // and one that also puts an object on the request, as the guard puts the principal.
  async 'middleware-next'() {
    return { app: issueApp([(req, res, next) => next()], () => null, () => null), authorization: undefined, close: async () => ({}) };
  },
  async 'middleware-store'() {
    const mw = (req, res, next) => {
      req.principal = { user: 'bench' };
      next();
    };
    return { app: issueApp([mw], (req) => req.principal.user, () => null), authorization: undefined, close: async () => ({}) };
  },
  tokenfence: () => tokenfenceKind({ audit: true, store: 'sqlite' }),
  // Diagnosis variants (BENCH_HTTP_VARIANTS=1): without audit, and without audit on MemoryTokenStore.
  'tokenfence-nocache': () => tokenfenceKind({ audit: true, store: 'sqlite', recordCacheMs: 0 }),
  'tokenfence-noaudit': () => tokenfenceKind({ audit: false, store: 'sqlite' }),
  'tokenfence-memory': () => tokenfenceKind({ audit: false, store: 'memory' }),

  async passport() {
    // The peer equivalent of tokenfence's store: sha256(token) → user in a SQLite file (WAL, as
    // SqliteTokenStore), looked up with a prepared statement on every request.
    const passport = require('passport');
    const { Strategy: BearerStrategy } = require('passport-http-bearer');
    const Database = require('better-sqlite3');
    const db = new Database(join(dir, 'passport.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE tokens (hash TEXT PRIMARY KEY, user TEXT NOT NULL) WITHOUT ROWID');
    const token = randomBytes(32).toString('base64url');
    const sha256 = (text) => createHash('sha256').update(text).digest('hex');
    const insert = db.prepare('INSERT INTO tokens (hash, user) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 999; i++) insert.run(sha256(randomBytes(32).toString('base64url')), `user${i}`);
      insert.run(sha256(token), 'bench');
    })();
    const lookup = db.prepare('SELECT user FROM tokens WHERE hash = ?');
    passport.use(
      new BearerStrategy((presented, done) => {
        const row = lookup.get(sha256(presented));
        done(null, row ? { name: row.user } : false);
      }),
    );
    const app = issueApp(
      [passport.initialize(), passport.authenticate('bearer', { session: false })],
      (req) => req.user?.name ?? null,
      (req) => ({ user: req.user?.name }),
    );
    return { app, authorization: `Bearer ${token}`, close: async () => (db.close(), {}) };
  },

  async jwt() {
    const { expressjwt } = require('express-jwt');
    const jsonwebtoken = require('jsonwebtoken');
    const secret = randomBytes(32);
    const token = jsonwebtoken.sign({ sub: 'bench' }, secret, { algorithm: 'HS256', expiresIn: '1h' });
    const app = issueApp(
      [expressjwt({ secret, algorithms: ['HS256'] })],
      (req) => req.auth?.sub ?? null,
      (req) => ({ sub: req.auth?.sub }),
    );
    // express-jwt reports a missing or bad token as an error with status 401.
    app.use((err, req, res, next) => {
      if (err?.name === 'UnauthorizedError') res.status(401).json({ error: err.code });
      else next(err);
    });
    return { app, authorization: `Bearer ${token}`, close: async () => ({}) };
  },
};

serveForParent('http-server.mjs', kinds);
