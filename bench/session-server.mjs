// One server of the "session" benchmark section, run as a child process (`child_process.fork`) so that the
// server and the load generator (in the bench process) never share an event loop.
//
//   node bench/session-server.mjs <kind> <tempdir>
//
// kinds:
//   tokenfence   the whole stack: tokenGuard (SqliteTokenStore, JSON-lines audit; the benchmark request carries
//                no token), sessionRouter's middleware (sqliteSessionStorage in <tempdir>, `findUser` returning
//                a real hashPassword hash), xsrfProtection, the session resource at /rest/auth/1/session, and
//                GET /rest/api/2/myself for the session's user (401 without one).
//   login-verify as tokenfence, but the passwords are checked by a `verifyPassword` hook written the documented
//                way (an unknown user is checked against a dummy hash); used for login timing only.
//   login-naive  as login-verify, but the hook answers false at once for an unknown user (the leak the
//                documentation warns about); login timing only, to show the method can see a leak.
//   bare         plain express-session with the same kind of store (`sqliteSessionStorage(file).sessionStore`) and
//                the same express-session settings and cookie as sessionRouter; POST /login sets req.session.user
//                and saves; GET /rest/api/2/myself answers as tokenfence's (401 without a session user).
//
// Every kind listens on a free port on 127.0.0.1 and sends `{ type: 'ready', port, detail }` over IPC.
// IPC messages it answers:
//   { type: 'cpu' }       → { type: 'cpu', usage: process.cpuUsage(), at: hrtime ns }
//   { type: 'shutdown' }  → closes the server, the stores and the audit log, then
//                           { type: 'closed', auditLines } and exits.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { serveForParent } from './servers.mjs';

const require = createRequire(import.meta.url);
const express = require('express');

const [kind, dir] = process.argv.slice(2);
const MYSELF = '/rest/api/2/myself';
const USER = 'bench';
const PASSWORD = 'correct horse battery staple';
const IDLE_MS = 30 * 60_000;

/** The body of GET /rest/api/2/myself, the same for every kind (Jira's shape). */
function myself(req, name) {
  return {
    self: `http://${req.headers.host}/rest/api/2/user?username=${encodeURIComponent(name)}`,
    key: name,
    name,
    emailAddress: `${name}@example.com`,
    displayName: 'Benchmark User',
  };
}

const countLines = (file) => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length;
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
};

/** Calls `make(options)`; when the options object is refused for naming `key`, calls it again without it. */
function withOptional(make, options, key) {
  try {
    return { value: make(options), accepted: true };
  } catch (err) {
    if (!(err instanceof TypeError) || !String(err.message).includes(key)) throw err;
    const { [key]: _dropped, ...rest } = options;
    return { value: make(rest), accepted: false };
  }
}

async function tokenfenceKind(passwords) {
  const tf = require('../dist/cjs/index.js');
  const auditFile = join(dir, 'audit.jsonl');
  const audit = tf.createAuditLog([new tf.JsonLinesSink(auditFile)]);
  const tokens = tf.createTokenService({ store: new tf.SqliteTokenStore(join(dir, 'tokens.db')) });
  const storage = tf.sqliteSessionStorage(join(dir, 'sessions.db'));
  const passwordHash = await tf.hashPassword(PASSWORD);
  const users = new Map([[USER, { name: USER, passwordHash }]]);
  const dummyHash = await tf.hashPassword(randomBytes(24).toString('base64url'));
  const check =
    passwords === 'findUser'
      ? { findUser: async (name) => users.get(name) ?? null }
      : passwords === 'verify'
        ? {
            // The documented way: an unknown user costs one hash check too.
            verifyPassword: async (name, password) => {
              const user = users.get(name);
              const ok = await tf.verifyPasswordHash(password, user?.passwordHash ?? dummyHash);
              return user !== undefined && ok;
            },
          }
        : {
            // The leak the documentation warns about: no hash check for an unknown user.
            verifyPassword: async (name, password) => {
              const user = users.get(name);
              return user !== undefined && (await tf.verifyPasswordHash(password, user.passwordHash));
            },
          };
  const sessionOptions = {
    storage,
    secret: randomBytes(32).toString('base64url'),
    ...check,
    ipLimit: false,
    maxFailedLogins: 1000,
    idleTimeoutMs: IDLE_MS,
    audit,
  };
  const sessions = withOptional(tf.sessionRouter, sessionOptions, 'audit');
  const xsrf = withOptional(tf.xsrfProtection, { secret: randomBytes(32).toString('base64url'), audit }, 'audit');
  const guard = tf.tokenGuard({ tokens, audit });

  const app = express();
  app.use(guard);
  app.use(sessions.value.middleware);
  app.use(xsrf.value);
  app.use('/rest/auth/1/session', sessions.value);
  app.get(MYSELF, (req, res) => {
    const caller = tf.callerOf(req);
    if (caller === undefined) {
      res.status(401).json({ error: 'not_logged_in' });
      return;
    }
    res.json(myself(req, caller.user));
  });
  return {
    app,
    detail: { sessionAudit: sessions.accepted, xsrfAudit: xsrf.accepted, passwords },
    async close() {
      await tokens.close();
      await storage.close();
      await audit.close();
      return { auditLines: countLines(auditFile) };
    },
  };
}

const kinds = {
  tokenfence: () => tokenfenceKind('findUser'),
  'login-verify': () => tokenfenceKind('verify'),
  'login-naive': () => tokenfenceKind('naive'),

  async bare() {
    const { sqliteSessionStorage } = require('../dist/cjs/index.js');
    const session = require('express-session');
    const storage = sqliteSessionStorage(join(dir, 'sessions.db'));
    const app = express();
    // express-session exactly as sessionRouter configures it (name, settings, cookie).
    app.use(
      session({
        name: 'JSESSIONID',
        secret: randomBytes(32).toString('base64url'),
        store: storage.sessionStore,
        resave: false,
        saveUninitialized: false,
        rolling: true,
        unset: 'destroy',
        cookie: { httpOnly: true, sameSite: 'lax', path: '/', secure: 'auto', maxAge: IDLE_MS },
      }),
    );
    app.post('/login', (req, res, next) => {
      req.session.user = USER;
      req.session.save((err) => (err ? next(err) : res.json({ ok: true })));
    });
    app.get(MYSELF, (req, res) => {
      const user = req.session?.user;
      if (typeof user !== 'string') {
        res.status(401).json({ error: 'not_logged_in' });
        return;
      }
      res.json(myself(req, user));
    });
    return { app, detail: {}, close: async () => (await storage.close(), {}) };
  },
};

serveForParent('session-server.mjs', kinds);
