// Every target a request can be dispatched to, through real HTTP on Express 4 and 5 (SPEC §5): the guard checks
// req.originalUrl, the req.baseUrl + req.url it sees and an X-Original-URL / X-Rewrite-URL header; after
// approval a rewrite of req.url to where the rules or the scope do not allow throws a GuardError into the host's
// middleware; and Express's own mount-path trimming and restoring keeps working.
import type { Express, NextFunction, Request, RequestHandler, Response, Router } from 'express';
import request from 'supertest';
import { createTokenService, GuardError, MemoryTokenStore, tokenGuard, type AuditEvent, type TokenGuardOptions, type TokenService } from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, type ExpressFlavour, type RawResponse, type TestServer, outcome } from '../../../support/http';

/** What a handler saw of the request. */
interface Hit {
  route: string;
  baseUrl: string;
  url: string;
  path: string;
  originalUrl: string;
  params: Record<string, unknown>;
  user: string | undefined;
}


/** A refusal written by the guard itself: `{"error":{"status":…,"code":…}}`. */
const byGuard = (status: number, code: string) => ({ status, body: { error: { status, code } } });
/** A refusal the host's error handler wrote, from the GuardError thrown at the rewrite. */
const byHost = (status: number, code: string) => ({ status, body: { code } });

const ISSUE_RULES = ['[GET]/rest/api/2/issue/.*', '[GET]/rest/api/2/filter[QueryParam::permissions==true]'];

describe.each(EXPRESS_FLAVOURS)('request targets on $name', (flavour: ExpressFlavour) => {
  let tokens: TokenService;
  const servers: TestServer[] = [];
  /** Tokens by kind: `methods` has method lists (the method lock is on), `rules` the same rules without them, `open` none. */
  const tok = { methods: '', rules: '', open: '' };

  beforeAll(async () => {
    tokens = createTokenService({ store: new MemoryTokenStore() });
    tok.methods = (await tokens.issue({ owner: 'alice', label: 'methods', restrictions: ISSUE_RULES.join('\n') })).token;
    tok.rules = (await tokens.issue({ owner: 'alice', label: 'rules', restrictions: ISSUE_RULES.map((r) => r.replace('[GET]', '')).join('\n') })).token;
    tok.open = (await tokens.issue({ owner: 'alice', label: 'open' })).token;
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await tokens.close();
  });

  const guard = (options: Partial<TokenGuardOptions> = {}): RequestHandler => tokenGuard({ tokens, ...options }) as unknown as RequestHandler;
  const bearer = (t: string): [string, string] => ['Authorization', `Bearer ${t}`];

  async function serve(app: Express): Promise<{ base: string; port: number }> {
    const server = await listen(app);
    servers.push(server);
    return { base: `http://127.0.0.1:${server.port}`, port: server.port };
  }

  /** Records what a handler saw and answers 200 with the route's name. */
  const record = (hits: Hit[], route: string) => (req: Request, res: Response) => {
    hits.push({ route, baseUrl: req.baseUrl, url: req.url, path: req.path, originalUrl: req.originalUrl, params: { ...req.params }, user: req.tokenfence?.user });
    res.json({ reached: route });
  };

  /** The error handler every test app has: the status and code of what reached it. */
  const hostErrorHandler = (errors: unknown[]) => (err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(err.status ?? 500).json({ code: err.code });
  };

  /** A host middleware that dispatches to the URL named in a request header, as IIS-style rewrites do. */
  const rewriteFrom = (header: string) => (req: Request, _res: Response, next: NextFunction) => {
    const value = req.headers[header];
    if (typeof value === 'string') req.url = value;
    next();
  };

  /** The host's routes: the allowed issue and filter APIs, and an admin API inside and outside the scope. */
  function routes(app: Express, hits: Hit[], errors: unknown[]): void {
    app.get('/rest/api/2/issue/:key', record(hits, 'issue'));
    app.get('/rest/api/2/filter', record(hits, 'filter'));
    app.all('/rest/api/2/admin', record(hits, 'admin'));
    app.all('/admin', record(hits, 'admin'));
    app.use(hostErrorHandler(errors));
  }

  describe.each([
    ['X-Original-URL', 'before'],
    ['X-Original-URL', 'after'],
    ['X-Rewrite-URL', 'before'],
    ['X-Rewrite-URL', 'after'],
    ['X-Original-URL', 'none'],
    ['X-Rewrite-URL', 'none'],
  ] as const)('a %s header, honoured by a host rewrite %s the guard', (header, placement) => {
    let base: string;
    const hits: Hit[] = [];
    const errors: unknown[] = [];

    beforeAll(async () => {
      const app = flavour.create();
      const rewrite = rewriteFrom(header.toLowerCase());
      if (placement === 'before') app.use(rewrite);
      app.use(guard());
      if (placement === 'after') app.use(rewrite);
      routes(app, hits, errors);
      ({ base } = await serve(app));
    });
    beforeEach(() => {
      hits.length = 0;
      errors.length = 0;
    });

    const get = (path: string, target: string | undefined, t = tok.methods) => {
      const r = request(base).get(path).set(...bearer(t));
      return target === undefined ? r : r.set(header, target);
    };

    it('control: without the header the allowed path passes', async () => {
      expect(outcome(await get('/rest/api/2/issue/1', undefined))).toEqual({ status: 200, body: { reached: 'issue' } });
    });

    it.each(['methods', 'rules'] as const)('refuses a header that points to a restricted path (%s token); the guard answers and the admin route never runs', async (kind) => {
      expect(outcome(await get('/rest/api/2/issue/1', '/rest/api/2/admin', tok[kind]))).toMatchObject(byGuard(403, 'restricted'));
      expect(hits).toEqual([]);
      expect(errors).toEqual([]);
    });

    it.each(['methods', 'rules', 'open'] as const)('refuses a header that points outside the scope (%s token)', async (kind) => {
      expect(outcome(await get('/rest/api/2/issue/1', '/admin', tok[kind]))).toMatchObject(byGuard(403, 'outside_token_scope'));
      expect(hits).toEqual([]);
      expect(errors).toEqual([]);
    });

    it('refuses a header whose query the rules do not allow', async () => {
      expect(outcome(await get('/rest/api/2/filter?permissions=true', '/rest/api/2/filter?permissions=false'))).toMatchObject(byGuard(403, 'restricted'));
      expect(hits).toEqual([]);
    });

    it('answers 400 for a header with an ambiguous path', async () => {
      expect(outcome(await get('/rest/api/2/issue/1', '/rest/api/2/issue/%2e%2e/admin', tok.open))).toMatchObject(byGuard(400, 'ambiguous_request'));
      expect(hits).toEqual([]);
    });

    it('refuses a header that points to an allowed path when the request path itself is not allowed', async () => {
      expect(outcome(await get('/rest/api/2/admin', '/rest/api/2/issue/2'))).toMatchObject(byGuard(403, 'restricted'));
      expect(hits).toEqual([]);
    });

    it('lets a header that points to an allowed path through, to where the host sends it', async () => {
      expect(outcome(await get('/rest/api/2/issue/1', '/rest/api/2/issue/2'))).toEqual({ status: 200, body: { reached: 'issue' } });
      const dispatched = placement === 'none' ? '/rest/api/2/issue/1' : '/rest/api/2/issue/2';
      expect(hits).toEqual([expect.objectContaining({ url: dispatched, originalUrl: '/rest/api/2/issue/1', params: { key: dispatched.slice(-1) }, user: 'alice' })]);
    });
  });

  describe('a host rewrite before the guard, from a header the guard does not know', () => {
    let base: string;
    const hits: Hit[] = [];
    const errors: unknown[] = [];

    beforeAll(async () => {
      const app = flavour.create();
      app.use(rewriteFrom('x-my-rewrite'));
      app.use(guard());
      routes(app, hits, errors);
      ({ base } = await serve(app));
    });
    beforeEach(() => {
      hits.length = 0;
      errors.length = 0;
    });

    it('the guard checks the req.baseUrl + req.url it sees, not only req.originalUrl', async () => {
      const get = (target: string, t = tok.methods) => request(base).get('/rest/api/2/issue/1').set(...bearer(t)).set('X-My-Rewrite', target);
      expect(outcome(await get('/rest/api/2/admin'))).toMatchObject(byGuard(403, 'restricted'));
      expect(outcome(await get('/rest/api/2/admin', tok.rules))).toMatchObject(byGuard(403, 'restricted'));
      expect(outcome(await get('/admin', tok.open))).toMatchObject(byGuard(403, 'outside_token_scope'));
      expect(hits).toEqual([]);
      expect(outcome(await get('/rest/api/2/issue/2'))).toEqual({ status: 200, body: { reached: 'issue' } });
      expect(hits.map((h) => h.url)).toEqual(['/rest/api/2/issue/2']);
    });
  });

  describe('a rewrite of req.url after approval', () => {
    let base: string;
    const hits: Hit[] = [];
    const errors: unknown[] = [];
    const denials: AuditEvent[] = [];

    beforeAll(async () => {
      const app = flavour.create();
      app.use(guard({ audit: (e) => void (e.type === 'token.denied' && denials.push(e)) }));
      app.use(rewriteFrom('x-my-rewrite'));
      routes(app, hits, errors);
      ({ base } = await serve(app));
    });
    beforeEach(() => {
      hits.length = 0;
      errors.length = 0;
    });

    const rewrite = (path: string, target: string, t: string | undefined) => {
      const r = request(base).get(path).set('X-My-Rewrite', target);
      return t === undefined ? r : r.set(...bearer(t));
    };
    /** The one error the host's handler got: a GuardError with this status and code, and no stack frames for an error page to print. */
    const expectGuardError = (status: number, code: string) => {
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(GuardError);
      expect(errors[0]).toMatchObject({ status, code });
      expect(String((errors[0] as Error).stack)).not.toMatch(/\n\s+at /);
    };

    it.each(['methods', 'rules'] as const)('to a restricted path throws 403 restricted into the host (%s token); the admin route never runs', async (kind) => {
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/rest/api/2/admin', tok[kind]))).toEqual(byHost(403, 'restricted'));
      expectGuardError(403, 'restricted');
      expect(hits).toEqual([]);
    });

    it.each(['methods', 'rules', 'open'] as const)('to a path outside the scope throws 403 outside_token_scope (%s token)', async (kind) => {
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/admin', tok[kind]))).toEqual(byHost(403, 'outside_token_scope'));
      expectGuardError(403, 'outside_token_scope');
      expect(hits).toEqual([]);
    });

    it.each(['methods', 'rules'] as const)('to a suffix of the approved path is still refused (%s token)', async (kind) => {
      // /rest/api/2/issue/.* approves …/issue/x/rest/api/2/admin; the rewrite keeps only its tail. A suffix is
      // shaped like Express's own mount trimming, so the lock refuses it when the router reads the new path
      // (parseurl storing req._parsedUrl). Express's router reads it inside a try/catch, which would end the
      // request in a 404: the guard answers its own coded 403 instead, audited once.
      denials.length = 0;
      const res = await rewrite('/rest/api/2/issue/x/rest/api/2/admin', '/rest/api/2/admin', tok[kind]);
      expect(outcome(res)).toMatchObject(byGuard(403, 'restricted'));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*insufficient_scope/);
      expect(hits).toEqual([]);
      expect(denials).toEqual([expect.objectContaining({ type: 'token.denied', reason: 'restricted', status: 403 })]);
      // The same tail behind a mount path that Express trims is Express's own step, and works.
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/rest/api/2/issue/1', tok[kind]))).toEqual({ status: 200, body: { reached: 'issue' } });
    });

    it('a refusal at dispatch goes to the guard’s handler when it has one', async () => {
      const app = flavour.create();
      const got: GuardError[] = [];
      app.use(
        guard({
          handler: (err, _req, res) => {
            got.push(err);
            res.json({ mine: err.code });
          },
        }),
      );
      app.use(rewriteFrom('x-my-rewrite'));
      const ownHits: Hit[] = [];
      routes(app, ownHits, []);
      const own = await serve(app);
      const res = await request(own.base).get('/rest/api/2/issue/x/rest/api/2/admin').set('X-My-Rewrite', '/rest/api/2/admin').set(...bearer(tok.rules));
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ mine: 'restricted' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*insufficient_scope/);
      expect(got).toHaveLength(1);
      expect(ownHits).toEqual([]);
    });

    it.each(['methods', 'rules', 'open'] as const)('to an ambiguous URL throws 400 ambiguous_request (%s token)', async (kind) => {
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/rest/api/2/issue/%2e%2e/admin', tok[kind]))).toEqual(byHost(400, 'ambiguous_request'));
      expectGuardError(400, 'ambiguous_request');
      expect(hits).toEqual([]);
    });

    it.each(['methods', 'rules'] as const)('that changes only the query is checked too (%s token)', async (kind) => {
      for (const target of ['/rest/api/2/filter?permissions=false', '/rest/api/2/filter?permissions=true&permissions=true']) {
        errors.length = 0;
        expect([target, outcome(await rewrite('/rest/api/2/filter?permissions=true', target, tok[kind]))]).toEqual([target, byHost(403, 'restricted')]);
        expectGuardError(403, 'restricted');
      }
      expect(hits).toEqual([]);
    });

    it.each(['methods', 'rules', 'open'] as const)('to an allowed path works, and the handler sees the new URL (%s token)', async (kind) => {
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/rest/api/2/issue/2', tok[kind]))).toEqual({ status: 200, body: { reached: 'issue' } });
      expect(hits).toEqual([expect.objectContaining({ url: '/rest/api/2/issue/2', path: '/rest/api/2/issue/2', originalUrl: '/rest/api/2/issue/1', params: { key: '2' }, user: 'alice' })]);
      expect(errors).toEqual([]);
    });

    it('control: a request without a token is not the guard’s, and the host may rewrite it anywhere', async () => {
      expect(outcome(await rewrite('/rest/api/2/issue/1', '/rest/api/2/admin', undefined))).toEqual({ status: 200, body: { reached: 'admin' } });
      expect(hits.map((h) => [h.route, h.user])).toEqual([['admin', undefined]]);
      expect(errors).toEqual([]);
    });

    it('control: the request of the suffix attack is itself approved (no route: Express answers 404)', async () => {
      const r = await request(base).get('/rest/api/2/issue/x/rest/api/2/admin').set(...bearer(tok.methods));
      expect(r.status).toBe(404);
      expect(errors).toEqual([]);
    });
  });

  describe('Express’s own mount-path trimming and restoring', () => {
    /** Rules that allow exactly the paths these apps serve; with and without method lists. */
    const MOUNT_RULES = ['/rest/api/2/issue/[A-Z]+-\\d+', '/rest/api/2/issue/[A-Z]+-\\d+/comment/\\d+', '/rest/api/2', '/rest/api/2/other'];
    const mtok = { rules: '', methods: '', open: '' };
    const hits: Hit[] = [];
    const errors: unknown[] = [];
    const bases: Record<'appLevel' | 'inRouter' | 'trailingSlash' | 'subApp' | 'mergeParams', string> = { appLevel: '', inRouter: '', trailingSlash: '', subApp: '', mergeParams: '' };

    /** app.use('/rest', r1); r1.use('/api', r2); r2.use('/2', r3), and a route after them that requests fall through to. */
    function nested(guardInRouter: boolean): Express {
      const app = flavour.create();
      if (!guardInRouter) app.use(guard());
      const r1 = flavour.router();
      const r2 = flavour.router();
      const r3 = flavour.router();
      app.use('/rest', r1);
      r1.use('/api', r2);
      if (guardInRouter) r2.use(guard());
      r2.use('/2', r3);
      r3.get('/issue/:key', record(hits, 'r3 issue'));
      r3.get('/', record(hits, 'r3 root'));
      app.get('/rest/api/2/other', record(hits, 'app other'));
      app.use(hostErrorHandler(errors));
      return app;
    }

    beforeAll(async () => {
      mtok.rules = (await tokens.issue({ owner: 'alice', label: 'mount rules', restrictions: MOUNT_RULES.join('\n') })).token;
      mtok.methods = (await tokens.issue({ owner: 'alice', label: 'mount methods', restrictions: MOUNT_RULES.map((r) => `[GET]${r}`).join('\n') })).token;
      mtok.open = (await tokens.issue({ owner: 'alice', label: 'mount open' })).token;
      bases.appLevel = (await serve(nested(false))).base;
      bases.inRouter = (await serve(nested(true))).base;

      const slash = flavour.create();
      slash.use(guard());
      const rs = flavour.router();
      rs.get('/api/2/issue/:key', record(hits, 'slash issue'));
      slash.use('/rest/', rs);
      slash.use(hostErrorHandler(errors));
      bases.trailingSlash = (await serve(slash)).base;

      const outer = flavour.create();
      outer.use(guard());
      const sub = flavour.create();
      sub.get('/api/2/issue/:key', record(hits, 'sub issue'));
      sub.use(hostErrorHandler(errors));
      outer.use('/rest', sub);
      outer.use(hostErrorHandler(errors));
      bases.subApp = (await serve(outer)).base;

      const merging = flavour.create();
      merging.use(guard());
      // The flavour's router() declares only caseSensitive and strict.
      const rm = flavour.router({ mergeParams: true } as Parameters<ExpressFlavour['router']>[0]) as Router;
      rm.get('/comment/:id', record(hits, 'merged comment'));
      merging.use('/rest/api/2/issue/:key', rm);
      merging.use(hostErrorHandler(errors));
      bases.mergeParams = (await serve(merging)).base;
    });
    beforeEach(() => {
      hits.length = 0;
      errors.length = 0;
    });

    const KINDS = ['rules', 'methods', 'open'] as const;
    const CASES: ReadonlyArray<readonly [title: string, app: keyof typeof bases, path: string, seen: Omit<Hit, 'user'>]> = [
      [
        'three nested Routers, guard at app level',
        'appLevel',
        '/rest/api/2/issue/KAN-1?x=1',
        { route: 'r3 issue', baseUrl: '/rest/api/2', url: '/issue/KAN-1?x=1', path: '/issue/KAN-1', originalUrl: '/rest/api/2/issue/KAN-1?x=1', params: { key: 'KAN-1' } },
      ],
      [
        'three nested Routers, guard at app level: exactly the mount path, with a query',
        'appLevel',
        '/rest/api/2?x=1',
        { route: 'r3 root', baseUrl: '/rest/api/2', url: '/?x=1', path: '/', originalUrl: '/rest/api/2?x=1', params: {} },
      ],
      [
        'three nested Routers, guard at app level: falls through r3 to an app-level route',
        'appLevel',
        '/rest/api/2/other?x=1',
        { route: 'app other', baseUrl: '', url: '/rest/api/2/other?x=1', path: '/rest/api/2/other', originalUrl: '/rest/api/2/other?x=1', params: {} },
      ],
      [
        'three nested Routers, guard inside r2',
        'inRouter',
        '/rest/api/2/issue/KAN-1?x=1',
        { route: 'r3 issue', baseUrl: '/rest/api/2', url: '/issue/KAN-1?x=1', path: '/issue/KAN-1', originalUrl: '/rest/api/2/issue/KAN-1?x=1', params: { key: 'KAN-1' } },
      ],
      [
        'three nested Routers, guard inside r2: exactly the mount path, with a query',
        'inRouter',
        '/rest/api/2?x=1',
        { route: 'r3 root', baseUrl: '/rest/api/2', url: '/?x=1', path: '/', originalUrl: '/rest/api/2?x=1', params: {} },
      ],
      [
        'three nested Routers, guard inside r2: falls through r3, r2 and r1 to an app-level route',
        'inRouter',
        '/rest/api/2/other?x=1',
        { route: 'app other', baseUrl: '', url: '/rest/api/2/other?x=1', path: '/rest/api/2/other', originalUrl: '/rest/api/2/other?x=1', params: {} },
      ],
      [
        'a mount path with a trailing slash',
        'trailingSlash',
        '/rest/api/2/issue/KAN-1',
        { route: 'slash issue', baseUrl: '/rest', url: '/api/2/issue/KAN-1', path: '/api/2/issue/KAN-1', originalUrl: '/rest/api/2/issue/KAN-1', params: { key: 'KAN-1' } },
      ],
      [
        'a mounted sub-app',
        'subApp',
        '/rest/api/2/issue/KAN-1',
        { route: 'sub issue', baseUrl: '/rest', url: '/api/2/issue/KAN-1', path: '/api/2/issue/KAN-1', originalUrl: '/rest/api/2/issue/KAN-1', params: { key: 'KAN-1' } },
      ],
      [
        'a Router with mergeParams under a mount path with a parameter',
        'mergeParams',
        '/rest/api/2/issue/KAN-1/comment/5',
        { route: 'merged comment', baseUrl: '/rest/api/2/issue/KAN-1', url: '/comment/5', path: '/comment/5', originalUrl: '/rest/api/2/issue/KAN-1/comment/5', params: { key: 'KAN-1', id: '5' } },
      ],
    ];

    describe.each(KINDS)('with the %s token', (kind) => {
      it.each(CASES)('%s: the handler sees Express’s baseUrl, url, path, originalUrl and params', async (_title, app, path, seen) => {
        const r = await request(bases[app]).get(path).set(...bearer(mtok[kind]));
        expect(outcome(r)).toEqual({ status: 200, body: { reached: seen.route } });
        expect(hits).toEqual([{ ...seen, user: 'alice' }]);
        expect(errors).toEqual([]);
      });
    });

    it.each(Object.keys(bases) as Array<keyof typeof bases>)('the guard is in front of the %s app: a path the rules do not allow is refused', async (app) => {
      for (const kind of ['rules', 'methods'] as const) {
        const r = await request(bases[app]).get('/rest/api/2/issue/KAN-1/secret').set(...bearer(mtok[kind]));
        expect([kind, outcome(r)]).toMatchObject([kind, byGuard(403, 'restricted')]);
      }
      expect(hits).toEqual([]);
    });
  });

  describe('a request for exactly a mount path under strict routing', () => {
    it('Express routes it as `/` under the mount, which is the same request, not a second target', async () => {
      const hits: Hit[] = [];
      const errors: unknown[] = [];
      const strictTokens = { exact: (await tokens.issue({ owner: 'alice', label: 'exact', restrictions: '[GET]/rest/api' })).token };
      for (const guardInside of [false, true]) {
        const app = flavour.create();
        app.set('strict routing', true);
        const router = flavour.router({ strict: true });
        if (guardInside) router.use(guard({ strict: true }));
        else app.use(guard());
        router.get('/', record(hits, 'mount root'));
        app.use('/rest/api', router);
        app.use(hostErrorHandler(errors));
        const { base } = await serve(app);
        hits.length = 0;
        const r = await request(base).get('/rest/api?x=1').set(...bearer(strictTokens.exact));
        expect([guardInside, outcome(r)]).toEqual([guardInside, { status: 200, body: { reached: 'mount root' } }]);
        expect(hits).toEqual([expect.objectContaining({ baseUrl: '/rest/api', url: '/?x=1', originalUrl: '/rest/api?x=1' })]);
        // The trailing-slash form is another path under strict routing, and these rules do not allow it.
        expect(outcome(await request(base).get('/rest/api/?x=1').set(...bearer(strictTokens.exact)))).toMatchObject(byGuard(403, 'restricted'));
      }
      expect(errors).toEqual([]);
    });
  });
});
