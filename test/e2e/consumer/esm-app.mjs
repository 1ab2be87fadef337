// The ES module consumer (Express 5, installed with --ignore-scripts, so better-sqlite3 has no native
// build): import 'tokenfence' by name, guard a real server with a MemoryTokenStore, and check that the
// package loads without the native build and that SqliteTokenStore says what to do about it. Copied to
// app.mjs by the test.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createTokenService, MemoryTokenStore, SqliteTokenStore, tokenGuard } from 'tokenfence';
import checksModule from './guard-checks.cjs';

const { exerciseGuard, report } = checksModule;
const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));

const describeThrow = (fn) => {
  try {
    fn();
    return { threw: false };
  } catch (err) {
    return { threw: true, isError: err instanceof Error, name: err?.name, code: err?.code, message: String(err?.message ?? err) };
  }
};

const loads = async (how, load) => {
  try {
    const mod = await load();
    return { how, ok: typeof mod.tokenGuard === 'function' && typeof mod.SqliteTokenStore === 'function' };
  } catch (err) {
    return { how, ok: false, error: String(err?.stack ?? err) };
  }
};

const tokens = createTokenService({ store: new MemoryTokenStore() });
const checks = await exerciseGuard({ express, tokenGuard, tokens });
await tokens.close();

const cjs = require('tokenfence');
report({
  express: require('express/package.json').version,
  // The precondition of this app: npm did not build better-sqlite3.
  nativeBuild: existsSync(`${here}node_modules/better-sqlite3/build`),
  resolvedEsm: import.meta.resolve('tokenfence'),
  resolvedCjs: require.resolve('tokenfence'),
  loads: [await loads('import()', () => import('tokenfence')), await loads('createRequire', () => require('tokenfence'))],
  sqliteEsm: describeThrow(() => new SqliteTokenStore(`${here}tokens-esm.db`)),
  sqliteCjs: describeThrow(() => new cjs.SqliteTokenStore(`${here}tokens-cjs.db`)),
  ...checks,
});
