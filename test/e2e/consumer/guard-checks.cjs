// Shared by the consumer apps of test/e2e/consumer.test.ts (copied next to each app's script; the ES module
// app imports it as a CommonJS module). It mounts tokenGuard in the app's own Express, listens on a free
// loopback port and makes real HTTP calls with Node's fetch. It returns what it saw; the jest test asserts.
'use strict';

const RULES = '[GET]/rest/api/2/issue/JRA-\\d+';

/** The token with one character of its secret changed: the right shape, a wrong checksum. */
function tampered(token, prefix) {
  const i = prefix.length + 12 + 3; // inside the secret, after the 12-character id
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

async function exerciseGuard({ express, tokenGuard, tokens }) {
  const app = express();
  app.use(tokenGuard({ tokens }));
  app.all('/rest/api/2/issue/:key', (req, res) => {
    const p = req.tokenfence;
    res.json({ key: req.params.key, tokenfence: p ? { user: p.user, tokenId: p.tokenId, via: p.via, line: p.line } : null });
  });

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  const base = `http://127.0.0.1:${server.address().port}`;

  const call = async (method, path, authorization) => {
    const res = await fetch(base + path, { method, headers: authorization ? { authorization } : {} });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body };
  };

  try {
    const { token, record } = await tokens.issue({ owner: 'alice', label: 'e2e consumer', restrictions: RULES });
    const basic = 'Basic ' + Buffer.from(`alice:${token}`).toString('base64');
    return {
      tokenId: record.id,
      allowed: await call('GET', '/rest/api/2/issue/JRA-12', `Bearer ${token}`),
      allowedBasic: await call('GET', '/rest/api/2/issue/JRA-7', basic),
      refusedMethod: await call('DELETE', '/rest/api/2/issue/JRA-12', `Bearer ${token}`),
      refusedPath: await call('GET', '/rest/api/2/issue/KANBAN-1', `Bearer ${token}`),
      badToken: await call('GET', '/rest/api/2/issue/JRA-12', `Bearer ${tampered(token, tokens.prefix)}`),
      anonymous: await call('GET', '/rest/api/2/issue/JRA-12'),
      token,
    };
  } finally {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  }
}

/** Prints the result as the last line of stdout, and fails the process if anything is left running. */
function report(result) {
  console.log(JSON.stringify(result));
  setTimeout(() => {
    console.error('the app was still running 5 s after its checks: a handle was left open');
    process.exit(3);
  }, 5000).unref();
}

module.exports = { exerciseGuard, report, RULES };
