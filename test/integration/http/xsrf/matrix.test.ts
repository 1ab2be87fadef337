// The XSRF matrix of issue 14 through real HTTP on Express 4 and 5: every method × content type × way of
// authenticating × way of opting out × Sec-Fetch-Site/Origin case, each cell's status checked against an
// oracle that restates SPEC §9 (not the implementation). The whole stack is real: the guard, the session
// resource, xsrfProtection.
import request from 'supertest';
import {
  createTokenService,
  memorySessionStorage,
  MemoryTokenStore,
  sessionRouter,
  tokenGuard,
  xsrfProtection,
  type TokenService,
} from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type TestServer } from '../../../support/http';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', null] as const;
const AUTH = ['session', 'token', 'anonymous'] as const;
const OPT_OUT = ['nothing', 'no-check header', 'form token'] as const;
const SITE = ['no Origin', 'same-origin with own Origin', 'Sec-Fetch-Site: cross-site', 'foreign Origin', 'Origin: null'] as const;

type Cell = { method: (typeof METHODS)[number]; type: (typeof CONTENT_TYPES)[number]; auth: (typeof AUTH)[number]; optOut: (typeof OPT_OUT)[number]; site: (typeof SITE)[number] };

/** SPEC §9, restated: the status a cell must get (200 from the route, or 403 from the check). */
function expected(c: Cell): number {
  if (c.method === 'GET' || c.auth !== 'session') return 200;
  if (c.site === 'Sec-Fetch-Site: cross-site' || c.site === 'foreign Origin' || c.site === 'Origin: null') return 403;
  const formLike = c.type === null || c.type !== 'application/json';
  return formLike && c.optOut === 'nothing' ? 403 : 200;
}

const CELLS: Cell[] = METHODS.flatMap((method) =>
  CONTENT_TYPES.flatMap((type) => AUTH.flatMap((auth) => OPT_OUT.flatMap((optOut) => SITE.map((site) => ({ method, type, auth, optOut, site }))))),
);

describe.each(EXPRESS_FLAVOURS)('the XSRF matrix on $name', (flavour: ExpressFlavour) => {
  let server: TestServer;
  let tokens: TokenService;
  let base: string;
  let cookie: string;
  let apiToken: string;
  let formTokenOfSession: string;

  beforeAll(async () => {
    tokens = createTokenService({ store: new MemoryTokenStore() });
    apiToken = (await tokens.issue({ owner: 'alice', label: 'matrix' })).token;
    const sessions = sessionRouter({ storage: memorySessionStorage(), secret: 'matrix-session-secret-32-characters!', verifyPassword: (u, p) => u === 'alice' && p === 'pw' });
    const xsrf = xsrfProtection({ secret: 'matrix-form-token-secret-32-characters' });
    const app = flavour.create();
    app.use(tokenGuard({ tokens }));
    app.use(sessions.middleware);
    app.use('/rest/auth/1/session', sessions);
    app.use('/rest', xsrf);
    app.get('/rest/form-token', (req, res) => res.json({ token: xsrf.formToken(req) }));
    app.all('/rest/thing', (_req, res) => res.status(200).json({ reached: true }));
    server = await listen(app);
    base = `http://127.0.0.1:${server.port}`;
    const login = await request(base).post('/rest/auth/1/session').set('Content-Type', 'application/json').send('{"username":"alice","password":"pw"}');
    cookie = (login.headers['set-cookie'] as unknown as string[])[0]!.split(';', 1)[0]!;
    formTokenOfSession = (await request(base).get('/rest/form-token').set('Cookie', cookie)).body.token as string;
  });
  afterAll(async () => {
    await server.close();
    await tokens.close();
  });

  function send(c: Cell): Promise<request.Response> {
    let r = request(base)[c.method.toLowerCase() as 'get'](`/rest/thing`);
    if (c.auth === 'session') r = r.set('Cookie', cookie);
    if (c.auth === 'token') r = r.set('Authorization', `Bearer ${apiToken}`);
    if (c.optOut === 'no-check header') r = r.set('X-Atlassian-Token', 'no-check');
    if (c.optOut === 'form token') r = r.set('X-Atlassian-Form-Token', formTokenOfSession);
    if (c.site === 'same-origin with own Origin') r = r.set('Sec-Fetch-Site', 'same-origin').set('Origin', base);
    if (c.site === 'Sec-Fetch-Site: cross-site') r = r.set('Sec-Fetch-Site', 'cross-site');
    if (c.site === 'foreign Origin') r = r.set('Origin', 'https://evil.example');
    if (c.site === 'Origin: null') r = r.set('Origin', 'null');
    if (c.method === 'GET') return r;
    if (c.type !== null) r = r.set('Content-Type', c.type);
    // A body of the content type's kind; with no Content-Type, a bare body as a form without enctype sends none.
    return c.type === null ? r.send(Buffer.from('a=1')).unset('Content-Type') : r.send(c.type === 'application/json' ? '{"a":1}' : 'a=1');
  }

  test(`every one of the ${CELLS.length} cells gets the status SPEC §9 gives it`, async () => {
    const wrong: string[] = [];
    const counts = { 200: 0, 403: 0 };
    for (let i = 0; i < CELLS.length; i += 16) {
      await Promise.all(
        CELLS.slice(i, i + 16).map(async (c) => {
          const r = await send(c);
          const want = expected(c);
          counts[want as 200 | 403]++;
          const ok = r.status === want && (want === 200 ? r.body.reached === true : r.body.error?.code === 'xsrf_check_failed' && r.body.error.message === 'XSRF check failed');
          if (!ok) wrong.push(`${c.method} ${c.type ?? '(no type)'} ${c.auth} ${c.optOut} ${c.site}: got ${r.status} ${r.text.slice(0, 80)}, want ${want}`);
        }),
      );
    }
    expect(wrong).toEqual([]);
    // The matrix exercises both outcomes in earnest.
    expect(counts[403]).toBeGreaterThan(100);
    expect(counts[200]).toBeGreaterThan(500);
  });
});
