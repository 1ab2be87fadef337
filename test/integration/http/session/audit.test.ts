// Audit events of the session resource and the XSRF check, and a secret scan (issue 14): login success,
// failure and denial, logout and XSRF failure reach the same audit hook as token calls, and no password,
// session id or form token appears in any event, log line or error body.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import request from 'supertest';
import type { Express } from 'express';
import {
  createAuditLog,
  createTokenService,
  formToken,
  JsonLinesSink,
  memorySessionStorage,
  MemoryTokenStore,
  sessionRouter,
  tokenGuard,
  xsrfProtection,
  type AuditEvent,
  type AuditLog,
  type TokenService,
} from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';

const PASSWORD = 'correct-horse-battery-staple';
const WRONG = 'tr0ub4dor-and-3';

describe.each(EXPRESS_FLAVOURS)('session and XSRF audit on $name', (flavour: ExpressFlavour) => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-session-audit-'));
  const file = join(dir, 'audit.jsonl');
  const events: AuditEvent[] = [];
  const logged: string[] = [];
  let tokens: TokenService;
  let audit: AuditLog;
  let server: TestServer;
  let base: string;
  const spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      spies.push(jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void logged.push(format(...args))));
    }
    spies.push(jest.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void logged.push(format(...args))));
    tokens = createTokenService({ store: new MemoryTokenStore() });
    audit = createAuditLog([new JsonLinesSink(file, { flushMs: 10 }), (e) => void events.push(e)]);
    const sessions = sessionRouter({
      storage: memorySessionStorage(),
      secret: 'session-secret-of-at-least-32-chars!',
      verifyPassword: (username, password) => username === 'alice' && password === PASSWORD,
      maxFailedLogins: 2,
      ipLimit: false,
      audit,
    });
    const xsrf = xsrfProtection({ secret: 'form-token-secret-of-32-characters!!', audit });
    const app: Express = flavour.create();
    app.use(tokenGuard({ tokens, audit }));
    app.use(sessions.middleware);
    app.use('/rest/auth/1/session', sessions);
    app.use(flavour.json());
    app.use(xsrf);
    app.get('/rest/form', (req, res) => res.json({ atl_token: formToken(req) }));
    app.post('/rest/api/2/issue', (_req, res) => res.status(201).json({ created: true }));
    server = await listen(app);
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    await audit.close();
    await tokens.close();
    for (const spy of spies) spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  });

  test('login, failure, denial, logout and XSRF failure are audited; no password, session id or form token is written anywhere', async () => {
    const secrets: string[] = [PASSWORD, WRONG];
    const bodies: string[] = [];
    const login = (agent: ReturnType<typeof request.agent>, username: string, password: string) =>
      agent.post('/rest/auth/1/session').set('Content-Type', 'application/json').set('User-Agent', 'scanner').send(JSON.stringify({ username, password }));

    const alice = request.agent(base);
    const ok = await login(alice, 'alice', PASSWORD);
    expect(ok.status).toBe(200);
    secrets.push(ok.body.session.value as string);
    for (const cookie of ok.headers['set-cookie'] as unknown as string[]) secrets.push(decodeURIComponent(cookie.split(';', 1)[0]!.split('=')[1]!));
    const token = (await alice.get('/rest/form')).body.atl_token as string;
    secrets.push(token, token.split('.')[1]!);

    // An XSRF failure with a form token in the query (of another session, so it fails) and one in the body.
    const other = request.agent(base);
    await login(other, 'alice', PASSWORD);
    const foreign = (await other.get('/rest/form')).body.atl_token as string;
    secrets.push(foreign);
    const forged = await alice.post(`/rest/api/2/issue?atl_token=${encodeURIComponent(foreign)}`).set('Content-Type', 'application/x-www-form-urlencoded').send(`atl_token=${encodeURIComponent(foreign)}`);
    expect(forged.status).toBe(403);
    bodies.push(forged.text);
    const crossSite = await alice.post('/rest/api/2/issue').set('Content-Type', 'application/json').set('Sec-Fetch-Site', 'cross-site').send('{}');
    expect(crossSite.status).toBe(403);
    bodies.push(crossSite.text);
    const fine = await alice.post(`/rest/api/2/issue?atl_token=${encodeURIComponent(token)}`).set('Content-Type', 'application/x-www-form-urlencoded').send('summary=x');
    expect(fine.status).toBe(201);

    for (let i = 0; i < 2; i++) bodies.push((await login(request.agent(base), 'alice', WRONG)).text);
    const denied = await login(request.agent(base), 'alice', PASSWORD);
    expect(denied.status).toBe(403);
    bodies.push(denied.text);
    bodies.push((await login(request.agent(base), 'nobody', WRONG)).text);
    const out = await alice.delete('/rest/auth/1/session');
    expect(out.status).toBe(204);
    bodies.push((await alice.get('/rest/api/2/issue')).text);

    await audit.close();
    const mine = events.filter((e) => e.type.startsWith('session.') || e.type.startsWith('xsrf.'));
    expect(mine.map((e) => [e.type, e.user, e.reason, e.status])).toEqual([
      ['session.login', 'alice', undefined, 200],
      ['session.login', 'alice', undefined, 200],
      ['xsrf.denied', 'alice', 'form-token', 403],
      ['xsrf.denied', 'alice', 'fetch-site', 403],
      ['session.login_failed', 'alice', 'login_failed', 401],
      ['session.login_failed', 'alice', 'login_failed', 401],
      ['session.login_denied', 'alice', 'captcha_required', 403],
      ['session.login_failed', 'nobody', 'login_failed', 401],
      ['session.logout', 'alice', undefined, 204],
    ]);
    expect(mine.every((e) => e.via === 'session' && e.ip !== null && typeof e.path === 'string' && !e.path.includes('?'))).toBe(true);
    expect(mine.find((e) => e.type === 'xsrf.denied')!.path).toBe('/rest/api/2/issue');
    expect(mine[0]!.userAgent).toBe('scanner');

    const written = [readFileSync(file, 'utf8'), JSON.stringify(events), events.map((e) => JSON.stringify(e)).join('\n'), logged.join('\n'), bodies.join('\n')].join('\n');
    expect(readFileSync(file, 'utf8')).toContain('session.login_denied');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(10);
      expect([secret, written.includes(secret)]).toEqual([secret, false]);
    }
  });
});
