// xsrfProtection through real HTTP on Express 4 and 5, with express-session: the content-type rule, the
// no-check header, form tokens from every source, Sec-Fetch-Site and Origin/Referer, who is exempt, renewal
// at login, and the handler option.
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import express5 from 'express';
import session from 'express-session';
// The npm alias `express4` is Express 4 (see package.json).
import express4 from 'express4';
import type { TokenPrincipal } from '../../../../src/http/guard/options';
import { formToken, xsrfProtection, type XsrfError, type XsrfOptions } from '../../../../src/http/xsrf/index';
import { EXPRESS_FLAVOURS, http, listen, send, type ExpressFlavour, type TestServer } from '../../../support/http';

const SECRET = 'xsrf-integration-secret-0123456789abcdef';
const FAILED = { error: { status: 403, code: 'xsrf_check_failed', message: 'XSRF check failed', explanation: expect.any(String) } };

describe.each(EXPRESS_FLAVOURS)('xsrfProtection on $name', (flavour: ExpressFlavour) => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  /** An app: express-session, test-only login routes, body parsers, a simulated guard, xsrfProtection, then echo routes. */
  async function start(options: Partial<XsrfOptions> = {}, store: session.Store = new session.MemoryStore()) {
    const app = flavour.create();
    const bodies = flavour.name === 'express4' ? express4 : express5;
    app.use(session({ name: 'JSESSIONID', secret: 'session-secret-for-the-tests-only', resave: false, saveUninitialized: false, store }));
    // Before xsrfProtection, as a login resource would be: it regenerates the id (which renews form tokens).
    app.get('/test/login', (req: Request, res: Response, next: NextFunction) => {
      req.session.regenerate((err: unknown) => {
        if (err) return next(err);
        req.session.tokenfence = { user: 'alice', loginAt: Date.now() };
        res.json({ ok: true });
      });
    });
    // A session without a login (a visitor).
    app.get('/test/visit', (req: Request, res: Response) => {
      (req.session as unknown as { visited: boolean }).visited = true;
      res.json({ ok: true });
    });
    app.use(bodies.urlencoded({ extended: false }) as never, bodies.json() as never, bodies.text() as never);
    // Stands in for tokenGuard: `X-Test-Token: valid` authenticates the request with a token.
    app.use((req: Request, _res: Response, next: NextFunction) => {
      if (req.headers['x-test-token'] === 'valid') req.tokenfence = { user: 'bob', tokenId: 'id', via: 'bearer' } as unknown as TokenPrincipal;
      next();
    });
    app.use(xsrfProtection({ secret: SECRET, ...options }));
    app.get('/form', (req: Request, res: Response) => res.json({ token: formToken(req) }));
    app.use((req: Request, res: Response) => res.json({ reached: true, method: req.method }));
    const onError: ErrorRequestHandler = (err: { status?: number; code?: string; stack?: string }, _req, res, _next) => {
      res.status(err.status ?? 500).json({ hostError: err.code ?? 'error', stack: err.stack });
    };
    app.use(onError);
    const server = await listen(app);
    servers.push(server);
    const port = server.port;
    return { port, origin: `http://127.0.0.1:${port}`, login: () => cookieOf(port, '/test/login'), tokenFor: (cookie: string) => tokenOf(port, cookie) };
  }

  async function cookieOf(port: number, path: string): Promise<string> {
    const r = await http(port).get(path).expect(200);
    const setCookie = r.headers['set-cookie'] as unknown as string[];
    return setCookie[0]!.split(';')[0]!;
  }
  async function tokenOf(port: number, cookie: string): Promise<string> {
    return ((await http(port).get('/form').set('Cookie', cookie).expect(200)).body as { token: string }).token;
  }

  describe('the content-type rule', () => {
    let app: Awaited<ReturnType<typeof start>>;
    let cookie: string;
    beforeAll(async () => {
      app = await start();
      cookie = await app.login();
    });
    const post = (path = '/rest/x') => http(app.port).post(path).set('Cookie', cookie);

    it.each([
      ['urlencoded', () => post().type('form').send('a=1')],
      ['multipart', () => post().field('a', '1')],
      ['text/plain', () => post().set('Content-Type', 'text/plain').send('a=1')],
      ['no content type', () => post()],
      ['an unparseable content type', () => post().set('Content-Type', 'application/json, text/plain').send('{}')],
    ])('refuses a %s POST of the session without a token', async (_name, make) => {
      const r = await make();
      expect(r.status).toBe(403);
      expect(r.body).toEqual(FAILED);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.text).not.toContain('at ');
    });

    it.each(['no-check', ' No-Check ', 'NO-CHECK'])('X-Atlassian-Token: %p lets a form POST through', async (value) => {
      for (const r of [await post().type('form').send('a=1').set('X-Atlassian-Token', value), await post().field('a', '1').set('X-Atlassian-Token', value), await post().set('X-Atlassian-Token', value)]) {
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ reached: true, method: 'POST' });
      }
    });

    it('another value of X-Atlassian-Token is no opt-out', async () => {
      expect((await post().type('form').send('a=1').set('X-Atlassian-Token', 'nocheck')).status).toBe(403);
    });

    it('a valid atl_token in the body, the query or the header lets it through', async () => {
      const token = await app.tokenFor(cookie);
      expect((await post().type('form').send(`a=1&atl_token=${token}`)).status).toBe(200);
      expect((await post(`/rest/x?atl_token=${token}`).type('form').send('a=1')).status).toBe(200);
      expect((await post(`/rest/x?atl_token=${token}`).field('a', '1')).status).toBe(200);
      expect((await post(`/rest/x?atl_token=${token}`).set('Content-Type', 'text/plain').send('x')).status).toBe(200);
      expect((await post().set('X-Atlassian-Form-Token', token)).status).toBe(200);
      expect((await post().field('a', '1').set('X-Atlassian-Form-Token', token)).status).toBe(200);
    });

    it('an invalid atl_token is refused, saying so', async () => {
      const token = await app.tokenFor(cookie);
      const r = await post().type('form').send(`atl_token=${token.slice(0, -2)}`);
      expect(r.status).toBe(403);
      expect(r.body.error.explanation).toMatch(/not valid for this session/);
      expect(r.text).not.toContain(token.slice(0, -2));
    });

    it('JSON passes without a token from a curl-like request (no Origin, no Referer, no Sec-Fetch-Site)', async () => {
      const r = await post().send({ a: 1 });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ reached: true, method: 'POST' });
    });

    it('PUT, PATCH, DELETE and other methods are checked; GET, HEAD and OPTIONS never are', async () => {
      for (const method of ['put', 'patch', 'delete'] as const) {
        expect((await http(app.port)[method]('/rest/x').set('Cookie', cookie)).status).toBe(403);
        expect((await http(app.port)[method]('/rest/x').set('Cookie', cookie).set('X-Atlassian-Token', 'no-check')).status).toBe(200);
      }
      for (const method of ['PROPFIND', 'TRACE']) {
        const r = await send(app.port, { method, path: '/rest/x', headers: [['Cookie', cookie]] });
        expect({ method, status: r.status }).toEqual({ method, status: 403 });
      }
      const hostile: Record<string, string> = { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.test', 'Content-Type': 'text/plain' };
      expect((await http(app.port).get('/rest/x').set(hostile)).status).toBe(200);
      expect((await http(app.port).head('/rest/x').set(hostile)).status).toBe(200);
      expect((await http(app.port).options('/rest/x').set(hostile)).status).toBe(200);
    });

    it('a POST that method-override would turn into a GET is still checked', async () => {
      // The X-HTTP-Method-Override header makes no difference to the check: the request is a POST.
      expect((await post().set('X-HTTP-Method-Override', 'GET')).status).toBe(403);
    });
  });

  describe('defence in depth', () => {
    let app: Awaited<ReturnType<typeof start>>;
    let cookie: string;
    beforeAll(async () => {
      app = await start();
      cookie = await app.login();
    });
    const json = () => http(app.port).post('/rest/x').set('Cookie', cookie).send({ a: 1 });

    it('refuses Sec-Fetch-Site: cross-site even for JSON and with no-check', async () => {
      const r = await json().set('Sec-Fetch-Site', 'cross-site').set('X-Atlassian-Token', 'no-check');
      expect(r.status).toBe(403);
      expect(r.body).toEqual(FAILED);
      expect(r.body.error.explanation).toMatch(/Sec-Fetch-Site: cross-site/);
      expect((await json().set('Sec-Fetch-Site', 'same-origin')).status).toBe(200);
    });

    it('refuses a foreign Origin and Origin: null, allows its own', async () => {
      const foreign = await json().set('Origin', 'https://evil.test');
      expect(foreign.status).toBe(403);
      expect(foreign.body.error.explanation).toMatch(/Origin header/);
      expect(foreign.text).not.toContain('evil.test');
      expect((await json().set('Origin', 'null')).status).toBe(403);
      expect((await json().set('Origin', `http://localhost:${app.port}`)).status).toBe(403);
      expect((await json().set('Origin', app.origin)).status).toBe(200);
      expect((await json().set('Origin', app.origin).set('Sec-Fetch-Site', 'same-origin')).status).toBe(200);
    });

    it('without Origin, checks the Referer', async () => {
      expect((await json().set('Referer', `${app.origin}/secure/page?x=1`)).status).toBe(200);
      const r = await json().set('Referer', `https://evil.test/${app.origin}`);
      expect(r.status).toBe(403);
      expect(r.body.error.explanation).toMatch(/Referer header/);
    });

    it('a form POST from its own origin still needs a token', async () => {
      const form = () => http(app.port).post('/rest/x').set('Cookie', cookie).set('Origin', app.origin).type('form');
      expect((await form().send('a=1')).status).toBe(403);
      expect((await form().send(`atl_token=${await app.tokenFor(cookie)}`)).status).toBe(200);
    });

    it('allowedOrigins replaces the own origin; the checks can be turned off', async () => {
      const listed = await start({ allowedOrigins: ['https://jira.example.com'] });
      const c = await listed.login();
      const j = () => http(listed.port).post('/rest/x').set('Cookie', c).send({ a: 1 });
      expect((await j().set('Origin', 'https://jira.example.com')).status).toBe(200);
      expect((await j().set('Origin', listed.origin)).status).toBe(403);
      const off = await start({ checkOrigin: false, checkFetchSite: false });
      const o = await off.login();
      expect((await http(off.port).post('/rest/x').set('Cookie', o).set('Origin', 'https://evil.test').set('Sec-Fetch-Site', 'cross-site').send({ a: 1 })).status).toBe(200);
    });
  });

  describe('who is checked', () => {
    let app: Awaited<ReturnType<typeof start>>;
    beforeAll(async () => {
      app = await start();
    });
    const hostileForm = (cookie?: string) => {
      const t = http(app.port).post('/rest/x').type('form').set('Origin', 'https://evil.test').set('Sec-Fetch-Site', 'cross-site');
      return (cookie === undefined ? t : t.set('Cookie', cookie)).send('a=1');
    };

    it('anonymous requests, with no session or a session without a login, are not checked', async () => {
      expect((await hostileForm()).status).toBe(200);
      expect((await hostileForm(await cookieOf(app.port, '/test/visit'))).status).toBe(200);
    });

    it('a request the guard authenticated (req.tokenfence) is exempt, even with the session cookie', async () => {
      const cookie = await app.login();
      const r = await http(app.port).post('/rest/x').type('form').set('Cookie', cookie).set('X-Test-Token', 'valid').set('Sec-Fetch-Site', 'cross-site').send('a=1');
      expect(r.status).toBe(200);
    });

    it('a mere Authorization header is not enough', async () => {
      const cookie = await app.login();
      const r = await http(app.port).post('/rest/x').type('form').set('Cookie', cookie).set('Authorization', 'Bearer tfk_whatever').send('a=1');
      expect(r.status).toBe(403);
      expect(r.body).toEqual(FAILED);
    });
  });

  describe('form tokens and sessions', () => {
    let app: Awaited<ReturnType<typeof start>>;
    beforeAll(async () => {
      app = await start();
    });
    const formPost = (cookie: string, token: string) => http(app.port).post('/rest/x').set('Cookie', cookie).type('form').send({ atl_token: token });

    it('a token of session A is refused in session B', async () => {
      const a = await app.login();
      const b = await app.login();
      expect(a).not.toBe(b);
      const tokenA = await app.tokenFor(a);
      expect((await formPost(a, tokenA)).status).toBe(200);
      expect((await formPost(b, tokenA)).status).toBe(403);
    });

    it('a token from before a session regeneration (login) fails after it', async () => {
      const before = await app.login();
      const token = await app.tokenFor(before);
      expect((await formPost(before, token)).status).toBe(200);
      // Log in again with the same cookie: express-session regenerates the id and sends a new cookie.
      const again = await http(app.port).get('/test/login').set('Cookie', before).expect(200);
      const after = (again.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
      expect(after).not.toBe(before);
      expect((await formPost(after, token)).status).toBe(403);
      expect((await formPost(after, await app.tokenFor(after))).status).toBe(200);
    });

    it('rotation: an app that lists the old secret after the new one accepts tokens of the old; one without it refuses them', async () => {
      // Three apps share one session store (and express-session's secret), so one cookie is one session on each.
      const store = new session.MemoryStore();
      const PREVIOUS = 'the-previous-secret-0123456789abcdefghij';
      const oldApp = await start({ secret: PREVIOUS }, store);
      const rotated = await start({ secret: [SECRET, PREVIOUS] }, store);
      const newOnly = await start({ secret: SECRET }, store);
      const cookie = await oldApp.login();
      const oldToken = await oldApp.tokenFor(cookie);
      const withToken = (port: number, token: string) => http(port).post('/rest/x').set('Cookie', cookie).set('X-Atlassian-Form-Token', token);
      expect((await withToken(oldApp.port, oldToken)).status).toBe(200);
      expect((await withToken(rotated.port, oldToken)).status).toBe(200);
      expect((await withToken(newOnly.port, oldToken)).status).toBe(403);
      const newToken = await rotated.tokenFor(cookie);
      expect((await withToken(newOnly.port, newToken)).status).toBe(200);
      expect((await withToken(oldApp.port, newToken)).status).toBe(403);
    });

    it('formToken throws a TypeError naming xsrfProtection where it was not mounted', async () => {
      const plain = flavour.create();
      plain.get('/form', (req: Request, res: Response) => {
        try {
          res.json({ token: formToken(req) });
        } catch (err) {
          res.status(500).json({ name: (err as Error).name, message: (err as Error).message });
        }
      });
      const server = await listen(plain);
      servers.push(server);
      const r = await http(server.port).get('/form');
      expect(r.body).toEqual({ name: 'TypeError', message: expect.stringMatching(/no xsrfProtection middleware has run/) });
    });
  });

  describe('the handler option', () => {
    const refuse = async (options: Partial<XsrfOptions>) => {
      const app = await start(options);
      const cookie = await app.login();
      return http(app.port).post('/rest/x').set('Cookie', cookie).type('form').send('a=1');
    };

    it('answers in the app\'s format after the status and Cache-Control are set', async () => {
      const handler = (err: XsrfError, _req: Request, res: Response) => {
        res.json({ mine: err.code, check: err.check, status: res.statusCode, stack: err.stack });
      };
      const r = await refuse({ handler });
      expect(r.status).toBe(403);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.body).toEqual({ mine: 'xsrf_check_failed', check: 'form-token', status: 403, stack: 'XsrfError: XSRF check failed' });
    });

    it('passes the error to the host\'s error handler with next(err), without a stack trace', async () => {
      const r = await refuse({ handler: (err, _req, _res, next) => next(err) });
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ hostError: 'xsrf_check_failed', stack: 'XsrfError: XSRF check failed' });
    });

    it('a handler that throws or rejects is reported, and the default answer is written', async () => {
      const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        for (const handler of [
          () => {
            throw new Error('handler bug');
          },
          async () => {
            throw new Error('handler bug');
          },
        ]) {
          const r = await refuse({ handler });
          expect(r.status).toBe(403);
          expect(r.body).toEqual(FAILED);
        }
        expect(spy).toHaveBeenCalledTimes(2);
        expect(spy.mock.calls[0]![0]).toMatch(/options\.handler failed.*handler bug/);
      } finally {
        spy.mockRestore();
      }
    });
  });
});
