// The demo smoke test (issues 14 and 15): `npm start` on a free port with a temporary data directory, driven
// over real HTTP — session login, the cookie, anonymous refusal, a token created through the management API and
// its restrictions, the XSRF check, a form token and the security headers — then SIGTERM, the audit file, and a
// restart that keeps users, sessions, the token and its usage count.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, START_TIMEOUT_MS, startDemoProcess, type DemoProcess } from '../support/demo-process';

const SECOND = 1000;
const STOP_TIMEOUT_MS = 20 * SECOND;
const REQUEST_TIMEOUT_MS = 10 * SECOND;

/** What each demo printed, shown when an expectation fails. */
const outputs: Array<() => string> = [];
/** Starts `npm start` and keeps its output for the failure message. */
async function startDemo(env: NodeJS.ProcessEnv): Promise<DemoProcess> {
  const demo = await startDemoProcess(env);
  outputs.push(demo.output);
  return demo;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One HTTP request, bounded by REQUEST_TIMEOUT_MS. */
function call(url: string, method: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...options.headers, ...(options.body !== undefined && { 'Content-Length': String(Buffer.byteLength(options.body)) }) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url} took over ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const FORM_TYPE = { 'Content-Type': 'application/x-www-form-urlencoded' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfence-demo-'));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

test('npm start runs the demo: login, cookie, a token from the management API, restrictions, XSRF, CSP, clean shutdown, and a restart that keeps its data', async () => {
  try {
    await smokeTest();
  } catch (err) {
    if (err instanceof Error) err.message += `\n\nWhat the demo printed:\n${outputs.map((o) => o()).join('\n')}`;
    throw err;
  }
}, 2 * START_TIMEOUT_MS + 60 * SECOND);

async function smokeTest(): Promise<void> {
  const dataDir = join(dir, 'data');
  const alicePassword = randomBytes(12).toString('base64url');
  const adminPassword = randomBytes(12).toString('base64url');
  const demo = await startDemo({ PORT: '0', HOST: '127.0.0.1', TOKENFENCE_DATA_DIR: dataDir, TOKENFENCE_DEMO_USERS: `alice:${alicePassword},admin:${adminPassword}` });
  const { url } = demo;

  // The first start prints no token (tokens are made through the management API) and, the users being given, no password.
  expect(demo.output()).not.toMatch(/tfk_/);
  expect(demo.output()).not.toContain(alicePassword);
  expect(demo.output()).not.toContain('Generated demo users');

  // Session login (JSON only), then the cookie.
  const login = await call(`${url}/rest/auth/1/session`, 'POST', { headers: JSON_TYPE, body: JSON.stringify({ username: 'alice', password: alicePassword }) });
  expect(login.status).toBe(200);
  expect(login.headers['x-seraph-loginreason']).toBe('OK');
  const setCookie = (login.headers['set-cookie'] ?? []).find((c) => c.startsWith('JSESSIONID='));
  expect(setCookie).toMatch(/HttpOnly/);
  const cookie = setCookie!.split(';', 1)[0]!;
  const sessionId = login.json.session.value as string;

  const myself = await call(`${url}/rest/api/2/myself`, 'GET', { headers: { Cookie: cookie } });
  expect(myself.status).toBe(200);
  expect(myself.json).toMatchObject({ name: 'alice', key: 'alice', displayName: 'Alice', emailAddress: 'alice@example.com' });
  expect(myself.json.self).toBe(`${url}/rest/api/2/user?username=alice`);

  const anonymous = await call(`${url}/rest/api/2/myself`, 'GET');
  expect(anonymous.status).toBe(401);
  expect(anonymous.json.error).toMatchObject({ status: 401, code: 'not_authenticated' });

  // A token made through the management API with the cookie (a JSON body: no XSRF opt-out needed).
  const MANAGE = `${url}/rest/api-tokens/latest`;
  const restrictions = '[GET]/rest/api/2/myself\n[GET]/rest/api/2/issue/DEMO-\\d+\n[GET,POST]/rest/api/2/search\n[POST]/rest/api/2/issue/DEMO-1/comment';
  const created = await call(MANAGE, 'POST', { headers: { ...JSON_TYPE, Cookie: cookie }, body: JSON.stringify({ label: 'smoke test', expiresInDays: 30, restrictions }) });
  expect(created.status).toBe(201);
  expect(created.json.record).toMatchObject({ owner: 'alice', label: 'smoke test', restrictions, usageCount: 0 });
  expect(created.json.snippets.curlBasic).toBe(`curl -u 'alice:${created.json.token}' '${url}/rest/api/2/myself'`);
  const token = created.json.token as string;
  const tokenId = created.json.record.id as string;
  expect(token).toMatch(/^tfk_/);
  // Without the cookie, 401; with the token itself, 403: a token cannot manage tokens.
  expect((await call(MANAGE, 'GET')).status).toBe(401);
  expect((await call(MANAGE, 'GET', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);

  // The token: allowed by its restrictions, then refused by them.
  const bearer = { Authorization: `Bearer ${token}` };
  const issue = await call(`${url}/rest/api/2/issue/DEMO-1`, 'GET', { headers: bearer });
  expect(issue.status).toBe(200);
  expect(issue.json).toMatchObject({ key: 'DEMO-1', id: '10001', fields: { status: { name: 'Done' } } });
  const search = await call(`${url}/rest/api/2/search?jql=${encodeURIComponent('project = DEMO AND key in (DEMO-2, DEMO-3)')}`, 'GET', { headers: bearer });
  expect(search.status).toBe(200);
  expect(search.json).toMatchObject({ startAt: 0, total: 2 });
  expect(search.json.issues.map((i: { key: string }) => i.key)).toEqual(['DEMO-2', 'DEMO-3']);
  const refused = await call(`${url}/rest/api/2/issue/DEMO-1`, 'DELETE', { headers: bearer });
  expect(refused.status).toBe(403);
  expect(refused.json.error.code).toBe('restricted');
  const elsewhere = await call(`${url}/rest/api/2/issue/DEMO-2/comment`, 'POST', { headers: { ...bearer, ...JSON_TYPE }, body: '{"body":"hi"}' });
  expect(elsewhere.status).toBe(403);
  const comment = await call(`${url}/rest/api/2/issue/DEMO-1/comment`, 'POST', { headers: { ...bearer, ...JSON_TYPE }, body: '{"body":"by token"}' });
  expect(comment.status).toBe(201);
  expect(comment.json).toMatchObject({ body: 'by token', author: { name: 'alice' } });

  // A form post with the cookie: refused without the opt-out header or a form token, on an unknown route too.
  const forged = await call(`${url}/rest/api/2/issue/DEMO-1/comment`, 'POST', { headers: { ...FORM_TYPE, Cookie: cookie }, body: 'body=forged' });
  expect(forged.status).toBe(403);
  expect(forged.json.error).toMatchObject({ status: 403, code: 'xsrf_check_failed', message: 'XSRF check failed' });
  const unknownForged = await call(`${url}/rest/no/such/route`, 'POST', { headers: { Cookie: cookie } });
  expect(unknownForged.status).toBe(403);
  expect(unknownForged.json.error.code).toBe('xsrf_check_failed');
  const unknown = await call(`${url}/rest/no/such/route`, 'GET', { headers: { Cookie: cookie } });
  expect(unknown.status).toBe(404);
  expect(unknown.json.error).toMatchObject({ status: 404, code: 'not_found' });
  const optedOut = await call(`${url}/rest/api/2/issue/DEMO-1/comment`, 'POST', { headers: { ...FORM_TYPE, Cookie: cookie, 'X-Atlassian-Token': 'no-check' }, body: 'body=scripted' });
  expect(optedOut.status).toBe(201);
  // The page's form carries a form token bound to the session; the page comes with a strict CSP (no inline
  // script or style: the page has none) and a referrer policy under which a browser's form post keeps its Origin.
  const page = await call(`${url}/`, 'GET', { headers: { Cookie: cookie } });
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  const csp = String(page.headers['content-security-policy']);
  for (const directive of ["default-src 'self'", "script-src 'self'", "script-src-attr 'none'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"]) expect(csp).toContain(directive);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https:|\*/);
  expect(page.text).not.toMatch(/<script|<style|\sstyle=|\son\w+=/i);
  expect(page.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' });
  const formToken = /name="atl_token" value="([^"]+)"/.exec(page.text)?.[1];
  expect(formToken).toBeDefined();
  const withToken = await call(`${url}/rest/api/2/issue/DEMO-1/comment`, 'POST', { headers: { ...FORM_TYPE, Cookie: cookie, Origin: url }, body: `body=from+the+page&atl_token=${encodeURIComponent(formToken!)}` });
  expect(withToken.status).toBe(201);

  // SIGTERM to npm (as `kill` or a container runtime sends it): npm passes it on, the demo shuts down cleanly.
  demo.child.kill('SIGTERM');
  expect(await demo.exited(STOP_TIMEOUT_MS)).toBe(0);
  expect(demo.output()).toContain('tokenfence demo stopped');

  // The audit file holds the login, the token calls (allowed and refused) and the XSRF refusals; no secret.
  const auditText = readFileSync(join(dataDir, 'audit.jsonl'), 'utf8');
  const events = auditText.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(events).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ type: 'token.created', tokenId, user: 'alice' }),
      expect.objectContaining({ type: 'session.login', user: 'alice', outcome: 'success' }),
      expect.objectContaining({ type: 'token.used', user: 'alice', tokenId, path: '/rest/api/2/issue/DEMO-1' }),
      expect.objectContaining({ type: 'token.denied', tokenId, reason: 'restricted' }),
      expect.objectContaining({ type: 'xsrf.denied', user: 'alice' }),
    ]),
  );
  for (const secret of [token, token.slice(16), alicePassword, adminPassword, sessionId, formToken!]) expect(auditText).not.toContain(secret);
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  for (const file of ['secrets.json', 'users.json', 'audit.jsonl', 'tokens.db']) expect(statSync(join(dataDir, file)).mode & 0o077).toBe(0);

  // A restart on the same data, without TOKENFENCE_DEMO_USERS: the users, the session and the token live on,
  // with the usage the clean shutdown flushed; nothing secret is printed.
  const again = await startDemo({ PORT: '0', HOST: '127.0.0.1', TOKENFENCE_DATA_DIR: dataDir });
  expect(again.output()).not.toMatch(/tfk_/);
  expect(again.output()).not.toContain('Generated demo users');
  expect((await call(`${again.url}/rest/api/2/myself`, 'GET', { headers: { Cookie: cookie } })).json).toMatchObject({ name: 'alice' });
  expect((await call(`${again.url}/rest/api/2/myself`, 'GET', { headers: bearer })).status).toBe(200);
  const listed = await call(`${again.url}/rest/api-tokens/latest`, 'GET', { headers: { Cookie: cookie } });
  expect(listed.status).toBe(200);
  expect(listed.json).toEqual([expect.objectContaining({ id: tokenId, label: 'smoke test', lastAccessedIp: '127.0.0.1' })]);
  // Three calls before the restart were allowed (the issue, the search, the comment); the shutdown wrote them.
  expect(listed.json[0].usageCount).toBeGreaterThanOrEqual(3);
  expect(listed.text).not.toContain(token.slice(16));
  const relogin = await call(`${again.url}/rest/auth/1/session`, 'POST', { headers: JSON_TYPE, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
  expect(relogin.status).toBe(200);
  again.child.kill('SIGTERM');
  expect(await again.exited(STOP_TIMEOUT_MS)).toBe(0);
}
