// Section "session": the two benchmarks of issue 14 — login timing (unknown user against wrong password) and a
// session-authenticated GET through the whole stack against bare express-session with the same SQLite store.
//
// How it works:
//   1. Servers run as child processes (bench/session-server.mjs) on 127.0.0.1: the whole tokenfence stack
//      (tokenGuard + sessionRouter middleware on sqliteSessionStorage + xsrfProtection + JSON-lines audit,
//      `findUser` with a real hashPassword hash), two login-only variants with a `verifyPassword` hook (the
//      documented dummy-hash way, and a naive one that skips the hash for an unknown user: a sensitivity
//      check that the method sees a leak), and bare express-session with `sqliteSessionStorage(file).sessionStore`
//      and the same settings (A) plus an identical second bare server (A′, the control).
//   2. Login timing: POST /rest/auth/1/session with JSON, one request at a time over one keep-alive
//      connection, pairs alternating unknown→wrong and wrong→unknown, every server's pair in turn, after a
//      warm-up. `ipLimit: false` and `maxFailedLogins: 1000`, so neither limit answers instead of the
//      password check. Every answer must be 401 with X-Seraph-LoginReason AUTHENTICATED_FAILED; the two
//      failures' bodies and headers (but Date) are compared. Client-side wall time per request.
//   3. GET: each server is logged in once; checks that GET /rest/api/2/myself answers 200 with the cookie and
//      401 without it and with a stale one (tokenfence: the cookie of a session logged out; bare: an unknown
//      session id), so the runs measure answers, not errors. A warm-up run each, then A/B rounds of autocannon
//      runs of A, B and A′ back to back, each round in another of the six orders; a run with any error,
//      timeout or non-2xx answer aborts the section. The goal is the median of the per-round B/A ratios.
//
// Environment: BENCH_SESSION_LOGINS (pairs per login server, default 60), BENCH_SESSION_ROUNDS (A/B rounds,
// default 15), BENCH_SESSION_DURATION (seconds per run, default 2), BENCH_SESSION_CONNECTIONS (default 32).
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtRatio, markdownTable, summarize } from './harness.mjs';
import { fmtMs, fmtRps, intEnv, loadServer, startServer, stopServer } from './servers.mjs';

const require = createRequire(import.meta.url);

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = join(here, 'session-server.mjs');
const MYSELF = '/rest/api/2/myself';
const RESOURCE = '/rest/auth/1/session';
const USER = 'bench';
const PASSWORD = 'correct horse battery staple';
const GOALS = { maxLoginSkew: 0.25, minRatioToBare: 0.9 };

const abort = (message) => new Error(`session bench aborted: ${message}`);

// ---------------------------------------------------------------------------------------------------
// Requests

/** One request: { status, headers, body, ms } (ms: wall time from send to the end of the body). */
function send(port, method, path, { headers = {}, body, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const all = payload === undefined ? headers : { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers };
    const start = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, method, headers: all, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, ms });
      });
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The `name=value` of the session cookie a response set. */
function sessionCookie(res, what) {
  const set = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('JSESSIONID='));
  if (set === undefined) throw abort(`${what}: no JSESSIONID cookie in the answer (status ${res.status})`);
  return set.split(';', 1)[0];
}

/** Headers that may differ between two identical answers. */
const VOLATILE = new Set(['date', 'keep-alive', 'connection']);
const stableHeaders = (h) =>
  Object.fromEntries(
    Object.entries(h)
      .filter(([k]) => !VOLATILE.has(k))
      .sort(([a], [b]) => a.localeCompare(b)),
  );

// ---------------------------------------------------------------------------------------------------
// Login timing

const LOGIN_SERVERS = [
  { kind: 'tokenfence', label: '`findUser` + hashPassword hash (tokenfence checks; dummy hash for an unknown user)', goal: true },
  { kind: 'login-verify', label: '`verifyPassword` hook, documented way (dummy hash for an unknown user)', goal: false },
  { kind: 'login-naive', label: '`verifyPassword` hook, naive (no hash for an unknown user) — sensitivity check', goal: false },
];

async function loginTiming(servers, pairs, log) {
  const agents = servers.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const samples = servers.map(() => ({ unknown: [], wrong: [] }));
  const seen = servers.map(() => ({ unknown: undefined, wrong: undefined }));
  const attempt = async (i, which) => {
    const username = which === 'unknown' ? 'nobody-here' : USER;
    const res = await send(servers[i].port, 'POST', RESOURCE, { body: { username, password: 'wrong password, same length!' }, agent: agents[i] });
    if (res.status !== 401 || res.headers['x-seraph-loginreason'] !== 'AUTHENTICATED_FAILED') {
      throw abort(`${servers[i].kind}: a ${which} login answered ${res.status} (${res.headers['x-seraph-loginreason']}), expected 401 AUTHENTICATED_FAILED: ${JSON.stringify(res.body).slice(0, 200)}`);
    }
    seen[i][which] ??= { headers: stableHeaders(res.headers), body: res.body };
    return res.ms;
  };
  const warmup = 5;
  try {
    for (let p = 0; p < warmup + pairs; p++) {
      if (p === warmup || (p > warmup && (p - warmup) % 20 === 0)) log(`session: login pairs ${p - warmup + 1}–${Math.min(p - warmup + 20, pairs)} of ${pairs} on ${servers.length} servers`);
      const order = p % 2 === 0 ? ['unknown', 'wrong'] : ['wrong', 'unknown'];
      for (let i = 0; i < servers.length; i++) {
        for (const which of order) {
          const ms = await attempt(i, which);
          if (p >= warmup) samples[i][which].push(ms);
        }
      }
    }
  } finally {
    for (const a of agents) a.destroy();
  }
  return servers.map((s, i) => {
    const unknown = summarize(samples[i].unknown);
    const wrong = summarize(samples[i].wrong);
    const same = JSON.stringify(seen[i].unknown) === JSON.stringify(seen[i].wrong);
    return { unknown, wrong, ratio: unknown.median / wrong.median, same, seen: seen[i] };
  });
}

// ---------------------------------------------------------------------------------------------------
// GET checks and load

async function logIn(server) {
  const res =
    server.kind === 'bare'
      ? await send(server.port, 'POST', '/login', { body: {} })
      : await send(server.port, 'POST', RESOURCE, { body: { username: USER, password: PASSWORD } });
  if (res.status !== 200) throw abort(`${server.kind}: login answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
  return sessionCookie(res, `${server.kind}: login`);
}

/** A cookie that names no live session: tokenfence's a logged-out session's; bare's an unknown, unsigned id. */
async function staleCookie(server) {
  if (server.kind === 'bare') return 'JSESSIONID=s%3Aunknown-session-id-0123456789abcdef.bad-signature';
  const cookie = await logIn(server);
  const res = await send(server.port, 'DELETE', RESOURCE, { headers: { cookie, 'x-atlassian-token': 'no-check' } });
  if (res.status !== 204) throw abort(`${server.kind}: logout answered ${res.status}`);
  return cookie;
}

async function checkGet(server, cookie, label) {
  const expect = async (what, headers, status, test) => {
    const res = await send(server.port, 'GET', MYSELF, { headers });
    if (res.status !== status) throw abort(`${server.kind}: ${what} answered ${res.status}, expected ${status} (${JSON.stringify(res.body).slice(0, 200)})`);
    const problem = test?.(res);
    if (problem) throw abort(`${server.kind}: ${what}: ${problem}`);
    return res;
  };
  await expect('GET with the session cookie', { cookie }, 200, (res) => (res.body?.name === USER ? undefined : `unexpected body ${JSON.stringify(res.body)}`));
  await expect('GET without a cookie', {}, 401);
  const stale = await staleCookie(server);
  const res = await expect('GET with a stale cookie', { cookie: stale }, 401);
  return `${label}: ${MYSELF} → 200 with the session cookie, 401 without one, 401 with a stale one${server.kind === 'bare' ? '' : ' (a logged-out session’s)'}${res.body?.code ? ` (\`${res.body.code}\`)` : ''}`;
}

const load = (server, cookie, { duration, connections }) => loadServer(server, { section: 'session', path: MYSELF, headers: { cookie }, duration, connections });


// ---------------------------------------------------------------------------------------------------

export async function run({ log = () => {} } = {}) {
  const pairs = intEnv('BENCH_SESSION_LOGINS', 60, 1, 1000);
  const rounds = intEnv('BENCH_SESSION_ROUNDS', 15, 1, 200);
  const duration = intEnv('BENCH_SESSION_DURATION', 2, 1, 60);
  const connections = intEnv('BENCH_SESSION_CONNECTIONS', 32, 1, 1000);
  // maxFailedLogins is 1000 per account: warm-up, pairs and the checks must stay under it.
  if (pairs + 5 >= 990) throw new Error('BENCH_SESSION_LOGINS must stay below the 1000 failed logins an account may have');

  const dir = mkdtempSync(join(tmpdir(), 'tf-bench-session-'));
  const started = [];
  const start = async (kind, name) => {
    const server = await startServer(SERVER, 'session', kind, mkdtempSync(join(dir, `${name}-`)));
    started.push(server);
    return server;
  };
  try {
    log('session: starting 5 servers');
    const tf = await start('tokenfence', 'tokenfence');
    const verify = await start('login-verify', 'login-verify');
    const naive = await start('login-naive', 'login-naive');
    const bare = await start('bare', 'bare');
    const control = await start('bare', 'bare-control');

    // 1. Login timing.
    const logins = await loginTiming([tf, verify, naive], pairs, log);

    // 2. GET through the whole stack against bare express-session.
    log('session: logging in and checking the GET servers');
    const notes = [];
    const cookies = new Map();
    for (const [server, label] of [[bare, 'A (bare)'], [tf, 'B (tokenfence)'], [control, 'A′ (bare, control)']]) {
      const cookie = await logIn(server);
      cookies.set(server, cookie);
      notes.push(await checkGet(server, cookie, label));
    }
    const options = { duration, connections };
    log('session: warm-up, 1 s per server');
    for (const server of [bare, tf, control]) await load(server, cookies.get(server), { ...options, duration: 1 });

    const abServers = [bare, tf, control];
    const ORDERS = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]];
    const ab = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 5 === 0) log(`session: A/B rounds ${round + 1}–${Math.min(round + 5, rounds)} of ${rounds}, ${duration} s per run`);
      const r = [];
      for (const i of ORDERS[round % ORDERS.length]) r[i] = await load(abServers[i], cookies.get(abServers[i]), options);
      ab.push({ bare: r[0], tf: r[1], control: r[2] });
    }

    log('session: shutting the servers down');
    const closed = new Map();
    for (const server of started) closed.set(server, await stopServer(server));

    // ---- Results
    const loginGoal = logins[0];
    const paired = summarize(ab.map((p) => p.tf.rps / p.bare.rps));
    const controlRatio = summarize(ab.map((p) => p.control.rps / p.bare.rps));
    const vsBoth = summarize(ab.map((p) => (2 * p.tf.rps) / (p.bare.rps + p.control.rps)));
    const col = (pick) => ({
      bare: summarize(ab.map((p) => pick(p.bare))),
      tf: summarize(ab.map((p) => pick(p.tf))),
      control: summarize(ab.map((p) => pick(p.control))),
    });
    const rps = col((r) => r.rps);
    const p50 = col((r) => r.p50);
    const p99 = col((r) => r.p99);
    const cpu = col((r) => r.cpuPerReq);
    const goals = [
      {
        text: `login: unknown user and wrong password within ${Math.round(GOALS.maxLoginSkew * 100)} % (median of ${pairs} each, \`findUser\`)`,
        value: `${fmtRatio(loginGoal.ratio)} (${fmtMs(loginGoal.unknown.median)} vs ${fmtMs(loginGoal.wrong.median)} ms)`,
        pass: Math.abs(loginGoal.ratio - 1) <= GOALS.maxLoginSkew,
      },
      {
        text: `whole stack ≥ ${GOALS.minRatioToBare.toFixed(2)}× bare express-session (median of ${rounds} back-to-back B/A ratios)`,
        value: `${fmtRatio(paired.median)} (p25–p75 ${fmtRatio(paired.p25)}–${fmtRatio(paired.p75)}; control A′/A ${fmtRatio(controlRatio.median)}; server CPU per request ${Math.round(cpu.bare.median)} vs ${Math.round(cpu.tf.median)} µs, ${fmtRatio(cpu.bare.median / cpu.tf.median)})`,
        pass: paired.median >= GOALS.minRatioToBare,
      },
    ];
    const tfDetail = tf.detail ?? {};
    notes.push(
      `login answers: every one 401 with \`X-Seraph-LoginReason: AUTHENTICATED_FAILED\`; unknown user and wrong password give the same headers (but Date) and body: ${LOGIN_SERVERS.map((s, i) => `${s.kind} ${logins[i].same ? 'yes' : `**no** (unknown ${JSON.stringify(logins[i].seen.unknown)}, wrong ${JSON.stringify(logins[i].seen.wrong)})`}`).join(', ')}`,
      `sessionRouter accepted the \`audit\` option: ${tfDetail.sessionAudit ? 'yes, passed' : 'no, left out'}; xsrfProtection: ${tfDetail.xsrfAudit ? 'yes, passed' : 'no, left out'}; audit file of the whole-stack server after close: ${closed.get(tf)?.auditLines ?? 'n/a'} lines`,
      'every GET run: 0 errors, 0 timeouts, 0 non-2xx answers',
    );

    const versions = ['express', 'express-session', 'better-sqlite3', 'autocannon'].map((p) => `${p} ${require(`${p}/package.json`).version}`).join(', ');
    const markdown = [
      '## session — login timing, and a session GET through the whole stack against bare express-session',
      '',
      `**Login timing.** \`POST ${RESOURCE}\` (JSON) over real HTTP, one request at a time on one keep-alive connection per server; after 5 warm-up pairs, ${pairs} pairs per server alternating unknown→wrong and wrong→unknown, the servers' pairs in turn. \`ipLimit: false\`, \`maxFailedLogins: 1000\`; scrypt cost from \`hashPassword\`. Client wall time in ms.`,
      '',
      markdownTable(
        ['password check', 'unknown user median (p25–p75)', 'wrong password median (p25–p75)', 'unknown / wrong'],
        LOGIN_SERVERS.map((s, i) => [
          s.label,
          `${fmtMs(logins[i].unknown.median)} (${fmtMs(logins[i].unknown.p25)}–${fmtMs(logins[i].unknown.p75)})`,
          `${fmtMs(logins[i].wrong.median)} (${fmtMs(logins[i].wrong.p25)}–${fmtMs(logins[i].wrong.p75)})`,
          fmtRatio(logins[i].ratio),
        ]),
        ['l', 'r', 'r', 'r'],
      ),
      '',
      `**Session GET.** \`GET ${MYSELF}\` with the session cookie, small JSON body. A: bare \`express-session\` on \`sqliteSessionStorage(file).sessionStore\` with sessionRouter's settings (JSESSIONID, rolling, resave/saveUninitialized false, HttpOnly, SameSite=Lax, 30 min maxAge). B: tokenGuard (SqliteTokenStore, request without a token) → sessionRouter middleware (sqliteSessionStorage) → xsrfProtection → route using \`callerOf\`, audit \`createAuditLog([new JsonLinesSink(file)])\`. A′: a second A (control). Each in its own child process; autocannon, ${connections} connections, ${rounds} rounds of ${duration} s runs of A, B, A′ back to back in the six orders in turn. Medians over rounds.`,
      '',
      markdownTable(
        ['server', 'median req/s (p25–p75)', '× A', 'p50 ms', 'p99 ms', 'server CPU µs/req'],
        [
          ['A: bare express-session', rps.bare, 1, p50.bare, p99.bare, cpu.bare],
          ['B: tokenfence whole stack', rps.tf, paired.median, p50.tf, p99.tf, cpu.tf],
          ['A′: bare express-session (control)', rps.control, controlRatio.median, p50.control, p99.control, cpu.control],
        ].map(([label, r, ratio, l50, l99, c]) => [label, `${fmtRps(r.median)} (${fmtRps(r.p25)}–${fmtRps(r.p75)})`, fmtRatio(ratio), fmtMs(l50.median), fmtMs(l99.median), Math.round(c.median).toLocaleString('en-US')]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      `× A is the median of per-round ratios (B/A p25–p75 ${fmtRatio(paired.p25)}–${fmtRatio(paired.p75)}; B against the mean of A and A′ ${fmtRatio(vsBoth.median)}); a method without bias puts A′/A at 1.00×.`,
      '',
      '**Goals**',
      '',
      ...goals.map((g) => `- ${g.pass ? 'PASS' : 'FAIL'} — ${g.text}: ${g.value}`),
      '',
      '**Checks**',
      '',
      ...notes.map((n) => `- ${n}`),
      '',
      `Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs; ${versions}.`,
    ].join('\n');
    return { markdown, goals };
  } finally {
    for (const server of started) server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
