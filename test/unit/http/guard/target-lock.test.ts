// The req.url lock on its own (src/http/guard/target-lock.ts): Express's trimming and restoring pass without a
// check, every other change is asked about, and a trim-shaped change is settled when the path is parsed.
import { currentTarget, lockTarget, type TargetLock } from '../../../../src/http/guard/target-lock.js';

/** A lock that allows what `allow` says and records what it was asked. */
function lockOf(allow: (target: string) => boolean, approved: string[]) {
  const asked: string[] = [];
  const lock: TargetLock = {
    approved,
    check: (_req, l, target) => {
      asked.push(target);
      if (!allow(target)) throw Object.assign(new Error(`refused ${target}`), { status: 403, code: 'restricted' });
      l.approved.push(target);
    },
  };
  return { lock, asked };
}

/** A request as Express leaves it before the guard runs: own url, baseUrl and a parse of the url. */
const request = (url: string, baseUrl = '') => ({ url, baseUrl, _parsedUrl: { _raw: url } }) as { url: string; baseUrl: string; _parsedUrl: unknown };

describe('lockTarget', () => {
  const allowIssues = (t: string) => t.startsWith('/rest/api/2/issue/');

  test("Express's mount trimming and restoring, three Routers deep, ask nothing", () => {
    const req = request('/rest/api/2/issue/1?x=1');
    const { lock, asked } = lockOf(allowIssues, ['/rest/api/2/issue/1?x=1']);
    lockTarget(req, lock);
    // app.use('/rest', r1): trim, then baseUrl.
    req.url = '/api/2/issue/1?x=1';
    req.baseUrl = '/rest';
    // r1.use('/api/', r2) with a trailing slash: the trimmed url lacks its slash, which is added back.
    req.url = '2/issue/1?x=1';
    req.url = `/${req.url}`;
    req.baseUrl = '/rest/api';
    // r2.use('/2', r3), and a router read of the parse.
    req.url = '/issue/1?x=1';
    req.baseUrl = '/rest/api/2';
    req._parsedUrl = { _raw: req.url };
    expect(currentTarget(req)).toBe('/rest/api/2/issue/1?x=1');
    // On the way out, in the other order: baseUrl first, then url (and the added slash taken off).
    req.baseUrl = '/rest/api';
    req.url = '/2/issue/1?x=1';
    req.url = req.url.slice(1);
    req.baseUrl = '/rest';
    req.url = `/api/${req.url}`;
    req.baseUrl = '';
    req.url = '/rest/api/2/issue/1?x=1';
    req._parsedUrl = { _raw: req.url };
    expect(asked).toEqual([]);
  });

  test('a rewrite that is not a trimming step is asked about at once, and a refusal leaves req.url as it was', () => {
    const req = request('/rest/api/2/issue/1');
    const { lock, asked } = lockOf(allowIssues, ['/rest/api/2/issue/1']);
    lockTarget(req, lock);
    req.url = '/rest/api/2/issue/2';
    expect(asked).toEqual(['/rest/api/2/issue/2']);
    expect(() => (req.url = '/rest/api/2/admin')).toThrow('refused /rest/api/2/admin');
    expect(req.url).toBe('/rest/api/2/issue/2');
    // A change of the query alone is a new target too.
    expect(() => (req.url = '/rest/api/2/issue/2?evil=1')).not.toThrow();
    expect(asked).toEqual(['/rest/api/2/issue/2', '/rest/api/2/admin', '/rest/api/2/issue/2?evil=1']);
  });

  test('a suffix of an approved path is pending until the router parses it, and then refused', () => {
    const req = request('/rest/api/2/issue/x/rest/api/2/admin');
    const { lock, asked } = lockOf(allowIssues, ['/rest/api/2/issue/x/rest/api/2/admin']);
    lockTarget(req, lock);
    req.url = '/rest/api/2/admin';
    expect(asked).toEqual([]);
    // parseurl: the stored parse is hidden while pending, so it parses again and stores, which settles.
    expect(req._parsedUrl).toBeUndefined();
    expect(() => (req._parsedUrl = { _raw: req.url })).toThrow('refused /rest/api/2/admin');
    expect(asked).toEqual(['/rest/api/2/admin']);
  });

  test('a pending state that becomes consistent again needs no check', () => {
    const req = request('/rest/a/b');
    const { lock, asked } = lockOf(() => false, ['/rest/a/b']);
    lockTarget(req, lock);
    req.url = '/b';
    req.baseUrl = '/rest/a';
    req._parsedUrl = { _raw: '/b' };
    expect(req._parsedUrl).toEqual({ _raw: '/b' });
    expect(asked).toEqual([]);
  });

  test('the lock cannot be removed, works through Object.create, and a second guard adds its own', () => {
    const req = request('/rest/api/2/issue/1');
    const first = lockOf(allowIssues, ['/rest/api/2/issue/1']);
    const second = lockOf((t) => t.endsWith('/1') || t.endsWith('/2'), ['/rest/api/2/issue/1']);
    lockTarget(req, first.lock);
    lockTarget(req, second.lock);
    expect(() => Object.defineProperty(req, 'url', { value: '/admin' })).toThrow(TypeError);
    expect(() => delete (req as { url?: string }).url).toThrow(TypeError);
    const child = Object.create(req) as typeof req;
    child.url = '/rest/api/2/issue/2';
    expect(req.url).toBe('/rest/api/2/issue/2');
    expect(() => (req.url = '/rest/api/2/issue/3')).toThrow('refused /rest/api/2/issue/3');
    expect(first.asked).toEqual(['/rest/api/2/issue/2', '/rest/api/2/issue/3']);
    expect(second.asked).toEqual(['/rest/api/2/issue/2', '/rest/api/2/issue/3']);
  });
});
