// How precisely tokenGuard's rules match, through real HTTP on Express 4 and 5 (SPEC §3.2, §3.3, §3.5, §3.6):
// a leading `.*` stands for the context path only, a QueryParam holds for one occurrence of its name, JsonData
// compares JSON types and addresses arrays explicitly, and rule regexes match case-sensitively by default.
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import request from 'supertest';
import { createTokenService, MemoryTokenStore, tokenGuard, type TokenGuardOptions, type TokenService } from '../../../../src/index';
import { EXPRESS_FLAVOURS, listen, send, type ExpressFlavour, type RawResponse, type TestServer, outcome } from '../../../support/http';

/**
 * The guard's options with `basePath` and `caseInsensitiveRules` (SPEC §3.2, §3.3) written out, so that this
 * file type-checks against a TokenGuardOptions with or without them.
 */
type GuardOptions = Partial<TokenGuardOptions> & { basePath?: string; caseInsensitiveRules?: boolean };

/** What the app's last handler saw. */
interface Hit {
  route: string;
  path: string;
  url: string;
  params: Record<string, unknown>;
  query: unknown;
  body: unknown;
  user: string | undefined;
}


/** The guard's own 403 body: `{"error":{"status":403,"code":…}}`. */
const guardRefusal = (code: string, explanation?: unknown) => ({
  status: 403,
  body: { error: { status: 403, code, ...(explanation !== undefined && { explanation }) } },
});

describe.each(EXPRESS_FLAVOURS)('rule precision on $name', (flavour: ExpressFlavour) => {
  let tokens: TokenService;
  const servers: TestServer[] = [];
  const issue = async (label: string, restrictions: string): Promise<string> => (await tokens.issue({ owner: 'alice', label, restrictions })).token;

  beforeAll(() => {
    tokens = createTokenService({ store: new MemoryTokenStore() });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await tokens.close();
  });

  /**
   * The guard with these options; a guard that cannot be built (an option it does not know yet) becomes a
   * middleware answering 500 with the reason, so each test fails on its own and says why.
   */
  function guardOf(options: GuardOptions): RequestHandler {
    try {
      return tokenGuard({ tokens, ...options } as TokenGuardOptions) as unknown as RequestHandler;
    } catch (err) {
      const guardNotBuilt = (err as Error).message;
      return (_req: Request, res: Response) => void res.status(500).json({ guardNotBuilt });
    }
  }

  /** A loopback server for `app`, closed in afterAll; the base URL for supertest. */
  async function serve(app: Express): Promise<string> {
    const server = await listen(app);
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  }

  /** Records what a handler saw and answers 200 with the route's name. */
  const record = (hits: Hit[], route: string) => (req: Request, res: Response) => {
    hits.push({ route, path: req.path, url: req.url, params: { ...req.params }, query: req.query, body: req.body as unknown, user: req.tokenfence?.user });
    res.json({ reached: route });
  };

  /** The host's error handler: the status and code of what reached it. */
  const hostErrors = (app: Express, errors: unknown[]) =>
    app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
      errors.push(err);
      res.status(err.status ?? 500).json({ code: err.code });
    });

  const bearer = (t: string): [string, string] => ['Authorization', `Bearer ${t}`];

  describe('a leading .* is the context path, not any prefix', () => {
    const FILTER_RULE = '/rest/api/2/filter[QueryParam::permissions==true]';
    const WORKLOG_RULE = '.*rest/extender/1.0/worklog/user/.*';
    /** A token per spelling of the leading wildcard, and the explicit raw form. */
    const t = { star: '', lazy: '', plus: '', raw: '' };
    let root: string;
    let jira: string;
    const hits: Hit[] = [];
    const errors: unknown[] = [];

    /** The host's routes: an admin API matched by a regex route (as apps write them), the filter and worklog APIs, at any prefix. */
    function routes(app: Express): void {
      app.delete(/^\/rest\/api\/2\/admin(\/.*)?$/, record(hits, 'admin'));
      app.delete(/^\/jira\/rest\/api\/2\/admin(\/.*)?$/, record(hits, 'admin'));
      for (const prefix of ['', '/jira', '/x', '/a']) {
        app.all(`${prefix}/rest/api/2/filter`, record(hits, `${prefix}/filter`));
        app.get(`${prefix}/rest/extender/1.0/worklog/user/:name`, record(hits, `${prefix}/worklog`));
      }
      app.use(record(hits, 'fallback'));
      hostErrors(app, errors);
    }

    beforeAll(async () => {
      t.star = await issue('.*', [`.*${FILTER_RULE}`, WORKLOG_RULE].join('\n'));
      t.lazy = await issue('.*?', `.*?${FILTER_RULE}`);
      t.plus = await issue('.+', `.+${FILTER_RULE}`);
      t.raw = await issue('(?:.*)', `(?:.*)${FILTER_RULE}`);
      const plain = flavour.create();
      plain.use(guardOf({ scope: ['/rest/*path', '/a/*path'] }));
      routes(plain);
      root = await serve(plain);
      const mounted = flavour.create();
      mounted.use(guardOf({ basePath: '/jira', scope: ['/jira/rest/*path', '/x/rest/*path', '/rest/*path', '/a/*path'] }));
      routes(mounted);
      jira = await serve(mounted);
    });
    beforeEach(() => {
      hits.length = 0;
      errors.length = 0;
    });

    it.each(['star', 'lazy', 'plus'] as const)('the %s form does not admit /rest/api/2/admin/rest/api/2/filter: the admin route never runs', async (form) => {
      const r = await request(root).delete('/rest/api/2/admin/rest/api/2/filter?permissions=true').set(...bearer(t[form]));
      expect(outcome(r)).toMatchObject(guardRefusal('restricted'));
      expect(hits).toEqual([]);
    });

    it.each(['star', 'lazy'] as const)('the %s form admits the path itself at the root (no context path)', async (form) => {
      const r = await request(root).get('/rest/api/2/filter?permissions=true').set(...bearer(t[form]));
      expect(outcome(r)).toEqual({ status: 200, body: { reached: '/filter' } });
      expect(hits.map((h) => [h.route, h.query])).toEqual([['/filter', { permissions: 'true' }]]);
    });

    it('the seeds’ form without a slash (.*rest/…) admits /rest/… but not /a/rest/…', async () => {
      const ok = await request(root).get('/rest/extender/1.0/worklog/user/bob').set(...bearer(t.star));
      expect(outcome(ok)).toEqual({ status: 200, body: { reached: '/worklog' } });
      const prefixed = await request(root).get('/a/rest/extender/1.0/worklog/user/bob').set(...bearer(t.star));
      expect(outcome(prefixed)).toMatchObject(guardRefusal('restricted'));
      expect(hits.map((h) => h.route)).toEqual(['/worklog']);
    });

    it('the explicit raw form (?:.*) still admits any prefix', async () => {
      const r = await request(root).delete('/rest/api/2/admin/rest/api/2/filter?permissions=true').set(...bearer(t.raw));
      expect(outcome(r)).toEqual({ status: 200, body: { reached: 'admin' } });
      const other = await request(root).get('/a/rest/api/2/filter?permissions=true').set(...bearer(t.raw));
      expect(outcome(other)).toEqual({ status: 200, body: { reached: '/a/filter' } });
    });

    it.each(['star', 'lazy', 'plus'] as const)('with basePath /jira, the %s form admits /jira/rest/… and not /x/rest/… or /jira/rest/api/2/admin/rest/…', async (form) => {
      const ok = await request(jira).get('/jira/rest/api/2/filter?permissions=true').set(...bearer(t[form]));
      expect(outcome(ok)).toEqual({ status: 200, body: { reached: '/jira/filter' } });
      const other = await request(jira).get('/x/rest/api/2/filter?permissions=true').set(...bearer(t[form]));
      expect(outcome(other)).toMatchObject(guardRefusal('restricted'));
      const admin = await request(jira).delete('/jira/rest/api/2/admin/rest/api/2/filter?permissions=true').set(...bearer(t[form]));
      expect(outcome(admin)).toMatchObject(guardRefusal('restricted'));
      expect(hits.map((h) => h.route)).toEqual(['/jira/filter']);
    });

    it('with basePath /jira, the seeds’ form without a slash admits /jira/rest/… and not /x/rest/… or /a/rest/…', async () => {
      const ok = await request(jira).get('/jira/rest/extender/1.0/worklog/user/bob').set(...bearer(t.star));
      expect(outcome(ok)).toEqual({ status: 200, body: { reached: '/jira/worklog' } });
      for (const path of ['/x/rest/extender/1.0/worklog/user/bob', '/a/rest/extender/1.0/worklog/user/bob']) {
        const r = await request(jira).get(path).set(...bearer(t.star));
        expect([path, outcome(r)]).toMatchObject([path, guardRefusal('restricted')]);
      }
      expect(hits.map((h) => h.route)).toEqual(['/jira/worklog']);
    });

    it('with basePath /jira, the explicit raw form still admits any prefix', async () => {
      const r = await request(jira).get('/x/rest/api/2/filter?permissions=true').set(...bearer(t.raw));
      expect(outcome(r)).toEqual({ status: 200, body: { reached: '/x/filter' } });
    });
  });

  describe('a QueryParam holds only for a name that occurs exactly once', () => {
    let base: string;
    let port: number;
    let token: string;
    const hits: Hit[] = [];

    beforeAll(async () => {
      token = await issue('query', '[GET]/rest/api/2/filter[QueryParam::permissions==true]');
      const app = flavour.create();
      app.use(guardOf({}));
      app.get('/rest/api/2/filter', record(hits, 'filter'));
      app.use(record(hits, 'fallback'));
      base = await serve(app);
      port = Number(new URL(base).port);
    });
    beforeEach(() => void (hits.length = 0));

    it('control: one occurrence passes, and the handler sees a string', async () => {
      const r = await request(base).get('/rest/api/2/filter?permissions=true').set(...bearer(token));
      expect(outcome(r)).toEqual({ status: 200, body: { reached: 'filter' } });
      expect(hits.map((h) => h.query)).toEqual([{ permissions: 'true' }]);
    });

    it('refuses a repeated name whose values all match, saying it is repeated; the handler never sees an array', async () => {
      const r = await request(base).get('/rest/api/2/filter?permissions=true&permissions=true').set(...bearer(token));
      expect(outcome(r)).toMatchObject(guardRefusal('restricted', expect.stringMatching(/repeated/i)));
      expect(hits).toEqual([]);
    });

    it('refuses 21 occurrences of a matching value', async () => {
      const query = Array.from({ length: 21 }, () => 'permissions=true').join('&');
      const r = await request(base).get(`/rest/api/2/filter?${query}`).set(...bearer(token));
      expect(outcome(r)).toMatchObject(guardRefusal('restricted', expect.stringMatching(/repeated/i)));
      expect(hits).toEqual([]);
    });

    it('refuses a plain occurrence mixed with the bracket form (sent byte for byte)', async () => {
      // Raw client: the query reaches the server exactly as written, brackets unencoded.
      for (const path of ['/rest/api/2/filter?permissions=true&permissions[]=x', '/rest/api/2/filter?permissions[]=x&permissions=true']) {
        const r = await send(port, { path, headers: [bearer(token)] });
        expect([path, outcome(r)]).toMatchObject([path, guardRefusal('restricted')]);
      }
      expect(hits).toEqual([]);
    });
  });

  describe.each([
    ['the guard reads the body itself', 'guard'],
    ['express.json() runs before the guard', 'host'],
  ] as const)('JsonData compares JSON types (%s)', (_title, parser) => {
    let base: string;
    let token: string;
    const hits: Hit[] = [];
    /** How often a handler that tests `if (req.body.editable)` took the branch. */
    let editableBranch = 0;

    beforeAll(async () => {
      token = await issue(
        'json',
        [
          '[POST]/rest/api/2/filter[JsonData::editable==false]',
          '[POST]/rest/api/2/flag[JsonData::flag==true]',
          '[POST]/rest/api/2/field[JsonData::x==null]',
          '[POST]/rest/api/2/issue/KAN-1/comment[JsonData::visibility.type==role]',
          '[POST]/rest/api/2/labels[JsonData::labels.*==(bug|ui)]',
          '[POST]/rest/api/2/first[JsonData::labels.0==bug]',
        ].join('\n'),
      );
      const app = flavour.create();
      if (parser === 'host') app.use(flavour.json());
      app.use(guardOf({}));
      if (parser === 'guard') app.use(flavour.json());
      app.post('/rest/api/2/filter', (req: Request, res: Response, next: NextFunction) => {
        if ((req.body as { editable?: unknown }).editable) editableBranch++;
        next();
      });
      app.use(record(hits, 'handler'));
      base = await serve(app);
    });
    beforeEach(() => {
      hits.length = 0;
      editableBranch = 0;
    });

    const post = (path: string, body: string) => request(base).post(path).set(...bearer(token)).set('Content-Type', 'application/json').send(body);

    const CASES: ReadonlyArray<readonly [path: string, allowed: readonly string[], refused: readonly string[]]> = [
      ['/rest/api/2/filter', ['{"editable":false}'], ['{"editable":"false"}', '{"editable":[false]}', '{"editable":["false"]}']],
      ['/rest/api/2/flag', ['{"flag":true}'], ['{"flag":"true"}', '{"flag":[true]}', '{"flag":["true"]}']],
      ['/rest/api/2/field', ['{"x":null}'], ['{"x":"null"}', '{"x":[null]}', '{"x":["null"]}']],
      ['/rest/api/2/issue/KAN-1/comment', ['{"visibility":{"type":"role"}}'], ['{"visibility":{"type":["role"]}}', '{"visibility":[{"type":"role"}]}']],
      ['/rest/api/2/labels', ['{"labels":["bug","ui"]}', '{"labels":["ui"]}'], ['{"labels":[]}', '{"labels":["bug","x"]}', '{"labels":"bug"}', '{"labels":[["bug"]]}', '{"labels":[{"0":"bug"}]}']],
      ['/rest/api/2/first', ['{"labels":["bug","x"]}'], ['{"labels":["x","bug"]}', '{"labels":"bug"}', '{"labels":{"0":["bug"]}}']],
    ];

    it.each(CASES)('POST %s: the matching JSON passes and reaches the handler as sent', async (path, allowed) => {
      for (const body of allowed) {
        const r = await post(path, body);
        expect([body, outcome(r)]).toEqual([body, { status: 200, body: { reached: 'handler' } }]);
      }
      expect(hits.map((h) => h.body)).toEqual(allowed.map((b) => JSON.parse(b) as unknown));
    });

    it.each(CASES)('POST %s: other types, wrapped values and non-arrays are refused before any handler', async (path, _allowed, refused) => {
      for (const body of refused) {
        const r = await post(path, body);
        expect([body, outcome(r)]).toMatchObject([body, guardRefusal('restricted')]);
      }
      expect(hits).toEqual([]);
      expect(editableBranch).toBe(0);
    });
  });

  describe('rule regexes match case-sensitively by default', () => {
    let sensitive: string;
    let insensitive: string;
    let required: string;
    let token: string;
    const hits: Hit[] = [];

    beforeAll(async () => {
      token = await issue('case', ['[GET]/rest/api/2/issue/JRA-\\d+', '[GET]/rest/api/2/search[QueryParam::expand==names]'].join('\n'));
      const build = async (options: GuardOptions): Promise<string> => {
        // Express's default: case-insensitive routing, so `/issue/jra-1` reaches `:key` as `jra-1`.
        const app = flavour.create();
        app.use(guardOf(options));
        app.get('/rest/api/2/issue/:key', record(hits, 'issue'));
        app.get('/rest/api/2/search', record(hits, 'search'));
        return serve(app);
      };
      sensitive = await build({});
      insensitive = await build({ caseInsensitiveRules: true });
      required = await build({ required: true });
    });
    beforeEach(() => void (hits.length = 0));

    const get = (base: string, path: string) => request(base).get(path).set(...bearer(token));

    it('control: the exact case passes', async () => {
      expect(outcome(await get(sensitive, '/rest/api/2/issue/JRA-1'))).toEqual({ status: 200, body: { reached: 'issue' } });
      expect(hits.map((h) => h.params)).toEqual([{ key: 'JRA-1' }]);
    });

    it('refuses a key in another case in a case-insensitive app, saying the path matches only when case is ignored', async () => {
      const r = await get(sensitive, '/rest/api/2/issue/jra-1');
      expect(outcome(r)).toMatchObject(guardRefusal('restricted', expect.stringMatching(/case/i)));
      expect(hits).toEqual([]);
    });

    it('refuses a path literal in another case too, though the app would route it', async () => {
      const r = await get(sensitive, '/REST/api/2/issue/JRA-1');
      expect(outcome(r)).toMatchObject(guardRefusal('restricted', expect.stringMatching(/case/i)));
      expect(hits).toEqual([]);
    });

    it('caseInsensitiveRules: true restores case-insensitive rule matching', async () => {
      for (const path of ['/rest/api/2/issue/jra-1', '/REST/api/2/issue/jra-1', '/rest/api/2/issue/JRA-1']) {
        expect([path, outcome(await get(insensitive, path))]).toEqual([path, { status: 200, body: { reached: 'issue' } }]);
      }
      expect(hits.map((h) => h.params.key)).toEqual(['jra-1', 'jra-1', 'JRA-1']);
    });

    it('value regexes stay case-sensitive, with caseInsensitiveRules too', async () => {
      for (const base of [sensitive, insensitive]) {
        expect(outcome(await get(base, '/rest/api/2/search?expand=NAMES'))).toMatchObject(guardRefusal('restricted'));
        expect(outcome(await get(base, '/rest/api/2/search?expand=names'))).toEqual({ status: 200, body: { reached: 'search' } });
      }
      expect(hits.map((h) => h.query)).toEqual([{ expand: 'names' }, { expand: 'names' }]);
    });

    it('required: true still matches scope loosely: /REST/… without a token is 401', async () => {
      for (const path of ['/REST/api/2/issue/JRA-1', '/Rest/api/2/issue/jra-1']) {
        const r = await request(required).get(path);
        expect([path, outcome(r)]).toMatchObject([path, { status: 401, body: { error: { status: 401, code: 'credentials_required' } } }]);
      }
      expect(hits).toEqual([]);
    });
  });
});
