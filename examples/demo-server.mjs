// The tokenfence demo server (SPEC §10): Jira-like REST resources behind tokenfence's token guard, cookie
// sessions with login protection, XSRF form tokens, the token management API and a JSON-lines audit log;
// built on the public API only.
//
//   npm start                 # builds if src/ changed, then runs this file; or: node examples/demo-server.mjs
//
// Environment: PORT (default 3000; 0 picks a free port), HOST (default 127.0.0.1: only this machine can
// connect; set 0.0.0.0 to listen on every interface), TOKENFENCE_DATA_DIR (default ./data),
// TOKENFENCE_DEMO_USERS (`name:password,…`; `admin` is the administrator; without it users are generated
// and their passwords printed once).
//
// A user logs in with the session resource (POST /rest/auth/1/session) and creates API tokens with the
// management API (POST /rest/api-tokens/latest); README.md's "The demo" walks through it with curl, and
// test/e2e/demo-readme.test.ts runs that walk-through.
//
// Data (TOKENFENCE_DATA_DIR, 0700): tokens.db, sessions.db (sessions and login counters), audit.jsonl,
// users.json (scrypt hashes) and secrets.json (session, XSRF and token-pepper secrets, generated once; 0600).
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
  tokenPage,
  tokenRouter,
  xsrfProtection,
} from 'tokenfence';
import { loadSecrets, loadUsers, openDataDir } from './demo/data.mjs';
import { DemoError, jiraRouter } from './demo/jira.mjs';

const SHUTDOWN_GRACE_MS = 5000;

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The host part of a URL for an address the server listens on. */
function urlHost(address) {
  if (address === '0.0.0.0' || address === '::') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * helmet's default Content-Security-Policy, made stricter: nothing from another origin (helmet allows
 * `https:` fonts and styles), no inline style, no framing at all. `upgrade-insecure-requests` is left out
 * because the demo speaks plain HTTP: a browser would send the page's own requests to https:// and fail.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

/**
 * Headers on every response, HTML or not, as helmet sends them. The referrer policy is `same-origin`, not
 * helmet's `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form post, and the XSRF
 * check rightly refuses that (the form on `/` would stop working).
 */
function securityHeaders(req, res, next) {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  next();
}

/** A page that shows a form token at work: a comment form for DEMO-1 with its hidden atl_token. */
function homePage(req, xsrf) {
  const caller = callerOf(req);
  const body =
    caller === undefined
      ? `<p>Not logged in. Log in with <code>POST /rest/auth/1/session</code> (README.md, "The demo", walks through it with curl), then reload.</p>`
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
    policy: { maxLifetimeDays: 365, defaultLifetimeDays: 90, maxTokensPerUser: 50 },
    audit,
  });
  const storage = sqliteSessionStorage(paths.sessions);
  const closeStores = async () => {
    await tokens.close(); // writes pending usage counts
    await storage.close();
    await audit.close(); // last: it flushes whatever the others still reported
  };

  try {
    const isAdmin = (name) => admins.has(name);
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
    app.use(securityHeaders);
    app.use(tokenGuard({ tokens, scope: '/rest/*path', audit }));
    app.use(sessions.middleware);
    app.use(express.json({ limit: '100kb' }), express.urlencoded({ extended: false, limit: '100kb' }));
    // Before routing: every unsafe session request under /rest is checked, an unknown route included.
    app.use('/rest', xsrf);
    app.use('/rest/auth/1/session', sessions);
    // The management API: the session's user manages their tokens (admin: everyone's). A call made with an
    // API token is refused (403), so a restricted token can never mint an unrestricted one; cookie calls pass
    // the XSRF check above like every other. Token lifecycle events reach the audit log through `tokens`.
    app.use('/rest/api-tokens/latest', tokenRouter({ tokens, isAdmin, audit }));
    app.use('/rest/api/2', jiraRouter({ isAdmin }));
    app.use('/rest', (req, res, next) => next(new DemoError(404, 'not_found', `No resource at ${req.method} ${req.baseUrl}${req.path}.`)));
    app.get('/', (req, res) => res.type('html').send(homePage(req, xsrf)));
    // The management page: sign in, list, create (restrictions checked as you type), revoke; its own CSP.
    app.use('/tokens', tokenPage({ apiPath: '/rest/api-tokens/latest', sessionPath: '/rest/auth/1/session' }));
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
