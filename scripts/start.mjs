// `npm start`: builds tokenfence when dist/ is missing or older than its sources, then runs the demo server
// (examples/demo-server.mjs) in this process. The script is `exec node scripts/start.mjs`: without `exec`,
// npm forwards SIGTERM to the `sh -c` between it and node, which dies and leaves the server running.
// (Windows' cmd has no `exec`: there, run `node scripts/start.mjs`.)
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -Infinity;
  }
};
const newest = (dir) =>
  Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : mtime(join(dir, e.name)))));

const inputs = Math.max(newest(join(root, 'src')), mtime(join(root, 'tsconfig.build.json')), mtime(join(root, 'scripts', 'build.mjs')));
if (mtime(join(root, 'dist', 'cjs', 'index.js')) < inputs) {
  console.log('tokenfence: building dist/ (missing or older than src/)');
  execFileSync(process.execPath, [join('scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
}

const { main } = await import('../examples/demo-server.mjs');
await main();
