// The tokenfence demo server (SPEC §10): Jira-like REST resources behind tokenfence's token guard, cookie
// sessions with login protection, XSRF form tokens and a JSON-lines audit log; built on the public API only.
//
//   npm start                 # builds if src/ changed, then runs this file; or: node examples/demo-server.mjs
//
// Environment: PORT (default 3000; 0 picks a free port), HOST (default 127.0.0.1: only this machine can
// connect; set 0.0.0.0 to listen on every interface), TOKENFENCE_DATA_DIR (default ./data),
// TOKENFENCE_DEMO_USERS (`name:password,…`; `admin` is the administrator; without it users are generated
// and their passwords printed once). The first start also prints an API token for the first user that is
// not admin, restricted by examples/demo-token.rules. The walk-through, with alice's password in $PW and that
// token in $TOKEN:
//
//   # log in (JSON only); the cookie jar keeps JSESSIONID
//   curl -c jar -H 'Content-Type: application/json' -d "{\"username\":\"alice\",\"password\":\"$PW\"}" http://127.0.0.1:3000/rest/auth/1/session
//   # who am I, with the cookie; without it the answer is 401
//   curl -b jar http://127.0.0.1:3000/rest/api/2/myself
//   curl http://127.0.0.1:3000/rest/api/2/myself
//   # the API token: allowed by its restrictions (200), then refused by them (403 restricted)
//   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/rest/api/2/issue/DEMO-1
//   curl -X DELETE -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/rest/api/2/issue/DEMO-1
//   # a form post with the cookie and no form token: 403 xsrf_check_failed (a cross-site form could send it)
//   curl -b jar -d 'body=hello' http://127.0.0.1:3000/rest/api/2/issue/DEMO-1/comment
//   # the same with Jira's opt-out header, which a cross-site form cannot send: 201
//   curl -b jar -H 'X-Atlassian-Token: no-check' -d 'body=hello' http://127.0.0.1:3000/rest/api/2/issue/DEMO-1/comment
//   # search, and log out (DELETE has no body, so the cookie request needs the header too)
//   curl -b jar 'http://127.0.0.1:3000/rest/api/2/search?jql=project%20%3D%20DEMO'
//   curl -b jar -X DELETE -H 'X-Atlassian-Token: no-check' http://127.0.0.1:3000/rest/auth/1/session
//
// Data (TOKENFENCE_DATA_DIR, 0700): tokens.db, sessions.db (sessions and login counters), audit.jsonl,
// users.json (scrypt hashes) and secrets.json (session, XSRF and token-pepper secrets, generated once; 0600).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import express from 'express';
import {
  callbackSink,
  callerOf,
  createAuditLog,
  createTokenService,
  formatAuditMessage,
  HttpError,
  JsonLinesSink,
  sessionRouter,
  SqliteTokenStore,
  sqliteSessionStorage,
  tokenGuard,
  xsrfProtection,
} from 'tokenfence';
import { loadSecrets, loadUsers, openDataDir } from './demo/data.mjs';
import { DemoError, jiraRouter } from './demo/jira.mjs';

const TOKEN_RULES = new URL('./demo-token.rules', import.meta.url);
const SHUTDOWN_GRACE_MS = 5000;

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The host part of a URL for an address the server listens on. */
function urlHost(address) {
  if (address === '0.0.0.0' || address === '::') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}

/** A page that shows a form token at work: a comment form for DEMO-1 with its hidden atl_token. */
function homePage(req, xsrf) {
  const caller = callerOf(req);
  const body =
    caller === undefined
      ? `<p>Not logged in. Log in with <code>POST /rest/auth/1/session</code> (see the comment at the top of examples/demo-server.mjs), then reload.</p>`
      : `<p>Logged in as <b>${escapeHtml(caller.user)}</b>.</p>
<form method="post" action="/rest/api/2/issue/DEMO-1/comment">
  <input type="hidden" name="atl_token" value="${escapeHtml(xsrf.formToken(req))}">
  <label>Comment on DEMO-1 <input name="body" required></label> <button>Add</button>
</form>
<p>The hidden <code>atl_token</code> is signed and bound to this session: the same post from another site, or without it, gets 403 <code>xsrf_check_failed</code>.</p>`;
  return `<!doctype html><meta charset="utf-8"><title>tokenfence demo</title><h1>tokenfence demo</h1>${body}`;
}

/** Answers every error the routes raise with tokenfence's error body; never a stack trace. */
function errorHandler(log) {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    let error = err;
    if (!(err instanceof HttpError)) {
      // body-parser's errors (bad JSON, too large) are safe to show; anything else is logged, not shown.
      const status = Number(err?.status ?? err?.statusCode);
      error =
        err?.expose === true && status >= 400 && status < 500
          ? new DemoError(status, String(err.type ?? 'bad_request').replace(/\W/g, '_'), err.message)
          : new DemoError(500, 'internal_error', 'Something went wrong in the demo server; see its console.');
      if (error.status === 500) log.error(`tokenfence demo: ${req.method} ${req.path} failed: ${err?.stack ?? err}`);
    }
    res.status(error.status).setHeader('Cache-Control', 'no-store');
    res.json(typeof error.toJSON === 'function' ? error.toJSON() : { error: { status: error.status, code: error.code, message: error.message } });
  };
}

/**
 * Starts the demo and resolves to `{ url, close }` once it listens. `close()` stops accepting, closes the
 * connections, and flushes and closes the audit log, the token service and the session storage.
 */
export async function startDemo({ port = 3000, host = '127.0.0.1', dataDir = './data', usersText, log = console }) {
  const paths = openDataDir(dataDir, (message) => log.warn(`tokenfence demo: ${message}`));
  const secrets = loadSecrets(paths.secrets);
  const { users, generated } = await loadUsers(paths.users, usersText);
  const byName = new Map(users.map((u) => [u.name.toLowerCase(), u]));
  const admins = new Set(users.filter((u) => u.admin).map((u) => u.name));

  // One audit log for the token service, the guard, the sessions and the XSRF check: the file, and the console.
  const audit = createAuditLog([new JsonLinesSink(paths.audit), callbackSink((event) => log.log(`audit: ${formatAuditMessage(event)}`))]);
  const tokens = createTokenService({
    store: new SqliteTokenStore(paths.tokens),
    pepper: secrets.tokenPepper,
    policy: { maxLifetimeDays: 365, defaultLifetimeDays: 90 },
    audit,
  });
  const storage = sqliteSessionStorage(paths.sessions);
  const closeStores = async () => {
    await tokens.close(); // writes pending usage counts
    await storage.close();
    await audit.close(); // last: it flushes whatever the others still reported
  };

  try {
    let issued;
    if ((await tokens.listAll()).length === 0) {
      const owner = users.find((u) => !u.admin) ?? users[0];
      const restrictions = readFileSync(TOKEN_RULES, 'utf8');
      issued = await tokens.issue({ owner: owner.name, label: 'demo token (issued at first start)', restrictions }, { actor: owner.name });
    }

    const sessions = sessionRouter({
      storage,
      secret: secrets.sessionSecret,
      // tokenfence checks the password against the hash, and an unknown name against a dummy hash.
      findUser: (name) => byName.get(name.toLowerCase()),
      // Without a CAPTCHA service, a locked account can log in again 15 minutes after its last failure.
      failedLoginWindowSeconds: 900,
      audit,
    });
    const xsrf = xsrfProtection({ secret: secrets.xsrfSecret, audit });

    const app = express();
    app.disable('x-powered-by');
    app.use(tokenGuard({ tokens, scope: '/rest/*path', audit }));
    app.use(sessions.middleware);
    app.use(express.json({ limit: '100kb' }), express.urlencoded({ extended: false, limit: '100kb' }));
    // Before routing: every unsafe session request under /rest is checked, an unknown route included.
    app.use('/rest', xsrf);
    app.use('/rest/auth/1/session', sessions);
    app.use('/rest/api/2', jiraRouter({ isAdmin: (name) => admins.has(name) }));
    app.use('/rest', (req, res, next) => next(new DemoError(404, 'not_found', `No resource at ${req.method} ${req.baseUrl}${req.path}.`)));
    app.get('/', (req, res) => res.type('html').send(homePage(req, xsrf)));
    app.use(errorHandler(log));

    const server = await new Promise((resolve, reject) => {
      const s = app.listen(port, host);
      s.once('listening', () => resolve(s));
      s.once('error', reject);
    });
    const address = server.address();
    const url = `http://${urlHost(address.address)}:${address.port}`;

    if (generated !== undefined) {
      log.log(`Generated demo users (passwords shown once; set TOKENFENCE_DEMO_USERS=name:password,… to choose your own):`);
      for (const u of generated) log.log(`  ${u.name}  ${u.password}${u.name === 'admin' ? '   (administrator)' : ''}`);
    }
    if (issued !== undefined) {
      const expires = issued.record.expiresAt === null ? 'never' : issued.record.expiresAt.toISOString().slice(0, 10);
      log.log(`API token for ${issued.record.owner} (id ${issued.record.id}, expires ${expires}; shown once, stored only as a salted hash; restricted by examples/demo-token.rules):`);
      log.log(`  ${issued.token}`);
      log.log(`  curl -H "Authorization: Bearer ${issued.token}" ${url}/rest/api/2/issue/DEMO-1`);
    }
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) log.warn(`tokenfence demo: listening on ${host}, reachable from other machines over plain HTTP; HOST=127.0.0.1 keeps it local`);
    log.log(`tokenfence demo listening on ${url}`);

    let closing;
    const close = () =>
      (closing ??= (async () => {
        const closed = new Promise((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Requests still running get a moment to finish; then their connections are cut.
        const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(cut);
        await closeStores();
      })());
    return { url, server, close };
  } catch (err) {
    await closeStores().catch(() => undefined);
    throw err;
  }
}

/** Reads the environment, starts the demo, and shuts it down cleanly on SIGTERM or SIGINT. */
export async function main(env = process.env) {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`tokenfence demo: PORT must be a port number (0 picks a free one), got ${JSON.stringify(env.PORT)}`);
    process.exitCode = 1;
    return;
  }
  // Everything the demo writes (databases, audit log, users, secrets) is for this user's eyes only.
  process.umask(0o077);
  let demo;
  try {
    demo = await startDemo({ port, host: env.HOST || '127.0.0.1', dataDir: env.TOKENFENCE_DATA_DIR || './data', usersText: env.TOKENFENCE_DEMO_USERS });
  } catch (err) {
    console.error(`tokenfence demo: could not start: ${err?.message ?? err}`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return; // npm forwards the signal the terminal already sent: one shutdown is enough
    stopping = true;
    console.log(`tokenfence demo: ${signal}, shutting down`);
    setTimeout(() => {
      console.error('tokenfence demo: shutdown took too long; exiting');
      process.exit(1);
    }, 3 * SHUTDOWN_GRACE_MS).unref();
    demo.close().then(
      () => {
        console.log('tokenfence demo stopped: audit log and token usage flushed, stores closed');
        process.exit(0);
      },
      (err) => {
        console.error(`tokenfence demo: shutdown failed: ${err?.message ?? err}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
