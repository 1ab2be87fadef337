// Benchmark servers as child processes, shared by the HTTP sections (http.mjs, session.mjs): the parent forks a
// server script and talks to it over IPC (`ready`, `cpu`, `shutdown` → `closed`); the child side serves an app
// on 127.0.0.1 and answers those messages. Also the small helpers those sections share.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';

const autocannon = createRequire(import.meta.url)('autocannon');

/** An integer from the environment within [min, max], or `fallback` when unset; anything else throws. */
export const intEnv = (name, fallback, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  return n;
};

export const fmtRps = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const fmtMs = (x) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');

// ---------------------------------------------------------------------------------------------------
// The parent side

/**
 * Forks `script <kind> <dir>` and waits for its `ready` message; the server object it resolves with carries
 * what `ready` said (`port`, and `authorization` and `detail` when given). Messages are answered in order
 * through `ask`. `name` names the server in errors.
 */
export async function startServer(script, name, kind, dir, execArgv) {
  const child = fork(script, [kind, dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(execArgv !== undefined && { execArgv }) });
  const waiting = []; // { type, resolve, reject, timer }
  let failure;
  const failAll = (error) => {
    failure ??= error;
    for (const w of waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  };
  child.on('message', (message) => {
    if (message?.type === 'error') return failAll(new Error(`${name} server ${kind} failed: ${message.message}`));
    const i = waiting.findIndex((w) => w.type === message?.type);
    if (i >= 0) {
      const [w] = waiting.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(message);
    }
  });
  child.on('exit', (code, signal) => failAll(new Error(`${name} server ${kind} exited (code ${code}, signal ${signal})`)));
  child.on('error', (err) => failAll(err));
  const waitFor = (type, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const timer = setTimeout(() => {
        const i = waiting.findIndex((w) => w.timer === timer);
        if (i >= 0) waiting.splice(i, 1);
        reject(new Error(`${name} server ${kind}: no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.push({ type, resolve, reject, timer });
    });
  const server = {
    kind,
    child,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    ask: (type, reply = type, timeoutMs) => {
      const answer = waitFor(reply, timeoutMs);
      child.send({ type });
      return answer;
    },
    kill: () => {
      if (!server.exited()) child.kill('SIGKILL');
    },
  };
  try {
    const ready = await waitFor('ready', 30_000);
    return Object.assign(server, { port: ready.port, authorization: ready.authorization, detail: ready.detail });
  } catch (err) {
    server.kill();
    throw err;
  }
}

/** Asks a server to close (audit log, stores) and exit; returns its `closed` message. */
export async function stopServer(server) {
  const exited = new Promise((resolve) => (server.exited() ? resolve() : server.child.once('exit', resolve)));
  const closed = await server.ask('shutdown', 'closed', 20_000);
  await exited;
  return closed;
}

/**
 * One autocannon run of `GET path` against a server, with the server's CPU time read before and after. Any
 * error, timeout, reset or non-2xx answer aborts the section (`section` names it): a benchmark of refusals
 * measures nothing. Returns 2xx answers per second, the p50 and p99 latencies, the server's CPU share of wall
 * time and its CPU µs per 2xx answer.
 */
export async function loadServer(server, { section, path, headers, duration, connections }) {
  const before = await server.ask('cpu');
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}${path}`, method: 'GET', headers, connections, pipelining: 1, duration });
  const after = await server.ask('cpu');
  const bad = [];
  if (result.errors > 0) bad.push(`${result.errors} errors`);
  if (result.timeouts > 0) bad.push(`${result.timeouts} timeouts`);
  if (result.non2xx > 0) bad.push(`${result.non2xx} non-2xx answers`);
  if (result.resets > 0) bad.push(`${result.resets} resets`);
  if (!(result['2xx'] > 0)) bad.push('no 2xx answer at all');
  if (bad.length > 0) throw new Error(`${section} bench aborted: ${server.kind}: a run had ${bad.join(', ')} (status codes: ${JSON.stringify(result.statusCodeStats ?? {})})`);
  const cpuUs = after.usage.user + after.usage.system - before.usage.user - before.usage.system;
  const wallUs = (after.at - before.at) / 1000;
  return {
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: cpuUs / wallUs,
    cpuPerReq: cpuUs / result['2xx'],
  };
}

// ---------------------------------------------------------------------------------------------------
// The child side

/** Sends a message to the parent, if it is still there. */
export const sendToParent = (message) => process.send?.(message);

/**
 * Runs a server script's main: `kinds[kind]()` builds `{ app, authorization?, detail?, close }`; the app is
 * served on 127.0.0.1, `cpu` is answered with the process's CPU usage, `shutdown` closes the server and then
 * `close()` (whose result goes into `closed`). Any failure is reported as an `error` message and exits 1.
 */
export function serveForParent(script, kinds) {
  const [kind, dir] = process.argv.slice(2);
  const main = async () => {
    if (!Object.hasOwn(kinds, kind) || !dir) throw new Error(`usage: ${script} <${Object.keys(kinds).join('|')}> <tempdir>`);
    const { app, authorization, detail, close } = await kinds[kind]();
    const server = await new Promise((resolve, reject) => {
      const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
    });
    process.on('message', async (message) => {
      try {
        if (message?.type === 'cpu') {
          sendToParent({ type: 'cpu', usage: process.cpuUsage(), at: Number(process.hrtime.bigint()) });
        } else if (message?.type === 'shutdown') {
          server.closeAllConnections?.();
          await new Promise((resolve) => server.close(resolve));
          const extra = await close();
          sendToParent({ type: 'closed', ...extra });
          process.disconnect?.();
          process.exit(0);
        }
      } catch (err) {
        sendToParent({ type: 'error', message: err?.stack ?? String(err) });
        process.exit(1);
      }
    });
    // The parent went away (killed, crashed): do not linger.
    process.on('disconnect', () => process.exit(0));
    sendToParent({ type: 'ready', port: server.address().port, authorization, detail, pid: process.pid });
  };
  main().catch((err) => {
    sendToParent({ type: 'error', message: err?.stack ?? String(err) });
    process.exit(1);
  });
}
