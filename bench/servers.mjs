// Benchmark servers as child processes, shared by the HTTP sections (http.mjs, session.mjs): the parent forks a
// server script and talks to it over IPC (`ready`, `cpu`, `shutdown` → `closed`); the child side serves an app
// on 127.0.0.1 and answers those messages. Also the small helpers those sections share.
import { fork } from 'node:child_process';

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
