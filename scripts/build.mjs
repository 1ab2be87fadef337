// Builds dist/cjs with tsc, and dist/esm as a thin ES module entry over it; marks each folder's module
// type, and makes the CLI executable.
//
// The ES module entry re-exports the CommonJS build instead of being a second compile: an app that loads
// tokenfence both ways (its own `import`, a dependency's `require`) then has one copy of it, so one
// `GuardError` class for `instanceof`, one token-service cache and one set of request locks; and an
// `import` costs what a `require` does.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const tsc = (project) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('tsconfig.build.json');
// The management page's static files (no build step of their own).
cpSync('src/ui', 'dist/ui', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
chmodSync('dist/cjs/cli/bin.js', 0o755);

const names = Object.keys(createRequire(import.meta.url)(resolve('dist/cjs/index.js'))).filter((name) => name !== '__esModule').sort();
mkdirSync('dist/esm');
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
writeFileSync(
  'dist/esm/index.js',
  `// tokenfence's ES module entry: the CommonJS build's exports (one copy of tokenfence for both module systems).\n` +
    `import tokenfence from '../cjs/index.js';\n\n` +
    `export const {\n${names.map((name) => `  ${name},\n`).join('')}} = tokenfence;\n`,
);
writeFileSync('dist/esm/index.d.ts', `export * from '../cjs/index.js';\n`);
