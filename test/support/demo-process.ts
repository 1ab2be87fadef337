// The demo server as a child process for the e2e tests: `npm start` (or the demo file itself) with a clean
// environment, waited for until it prints its URL, and killed with its whole process group on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const SECOND = 1000;
/** Long enough for `npm start` to build dist/ first when src/ changed since the last build. */
export const START_TIMEOUT_MS = 120 * SECOND;

/**
 * The environment for children: the npm that runs jest (`npm test`) leaves its own package's variables in
 * it, and the demo's own settings must come from the test alone.
 */
export const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^npm_(package|lifecycle)_/i.test(key) && !/^npm_config_(local_prefix|ignore_scripts)$/i.test(key) && !/^(PORT|HOST|NODE_ENV|TOKENFENCE_.*|CURL_HOME)$/.test(key),
  ),
);

/** npm itself: the one running this test when there is one, else the one on PATH. */
const NPM: [string, string[]] = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];

/** A running demo. */
export interface DemoProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal), or rejects after `timeoutMs`. */
  exited(timeoutMs: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Kills a child's whole process group (npm and node, or sh and its curls), when it is still there. */
export function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Kills every child started here that still runs (for afterAll). */
export function killAll(): void {
  for (const child of running) killGroup(child);
}

/** Spawns `command` in its own process group with the clean environment, remembered for {@link killAll}. */
export function spawnChild(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: { ...CHILD_ENV, ...options.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('close', () => running.delete(child));
  return child;
}

/**
 * Starts the demo — `npm start`, as a user does — with `env`, and waits for its URL line; on a timeout or an
 * early exit it kills the demo and throws with what it printed.
 */
export function startDemoProcess(env: NodeJS.ProcessEnv): Promise<DemoProcess> {
  const child = spawnChild(NPM[0], [...NPM[1], 'start'], { env });
  let stdout = '';
  let stderr = '';
  const output = () => `--- demo stdout ---\n${stdout}\n--- demo stderr ---\n${stderr}`;
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const exited = (timeoutMs: number) =>
    new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not exit within ${timeoutMs} ms\n${output()}`)), timeoutMs);
      void exit.then((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      killGroup(child);
      reject(new Error(`${why}\n${output()}`));
    };
    const timer = setTimeout(() => fail(`the demo printed no URL within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /tokenfence demo listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output, exited });
      }
    });
    child.on('error', (err) => fail(`npm start could not run: ${err.message}`));
    void exit.then((code) => fail(`the demo exited (code ${code}) before printing its URL`));
  });
}
