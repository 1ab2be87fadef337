// The CommonJS consumer (Express 4, installed with install scripts, so better-sqlite3 is built): require
// 'tokenfence', keep tokens in a SqliteTokenStore file, guard a real server. Copied to app.js by the test.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const express = require('express');
const { createTokenService, SqliteTokenStore, tokenGuard } = require('tokenfence');
const { exerciseGuard, report } = require('./guard-checks.cjs');

async function main() {
  const file = path.join(__dirname, 'tokens.db');
  const tokens = createTokenService({ store: new SqliteTokenStore(file) });
  const checks = await exerciseGuard({ express, tokenGuard, tokens });
  await tokens.close();

  // The token was written to the file: a second service on it (a restarted app) accepts it.
  const again = createTokenService({ store: new SqliteTokenStore(file) });
  const reopened = await again.verify(checks.token, { username: 'alice', ip: '127.0.0.1' });
  await again.close();

  report({
    express: require('express/package.json').version,
    resolved: require.resolve('tokenfence'),
    dbFile: fs.existsSync(file),
    reopened: { ok: reopened.ok, user: reopened.ok ? reopened.user : null, reason: reopened.ok ? null : reopened.reason },
    ...checks,
  });
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exitCode = 1;
});
