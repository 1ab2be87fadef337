// The XSRF checks on plain request objects, without HTTP: which requests are checked, the content-type rule,
// the no-check header, the form-token sources, Sec-Fetch-Site and Origin/Referer.
import { checkXsrf, formTokensOf, hasNoCheck, isCrossSite, isSessionAuthenticated, isUnsafe, mayComeFromForm, originOf, ownOrigin, type XsrfRequest } from '../../../../src/http/xsrf/checks';
import { XsrfError } from '../../../../src/http/xsrf/errors';
import { FormTokens } from '../../../../src/http/xsrf/form-token';
import { compileXsrfOptions, type XsrfOptions } from '../../../../src/http/xsrf/options';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const SID = 'sid-1';

function setup(options: Partial<XsrfOptions> = {}) {
  const config = compileXsrfOptions({ secret: SECRET, ...options });
  const tokens = new FormTokens(config.keys);
  return { config, tokens, check: (req: Partial<XsrfRequest>) => checkXsrf(config, tokens, { ...session(), ...req, headers: { host: 'app.test', ...req.headers } }) };
}
const session = (): Partial<XsrfRequest> => ({ method: 'POST', protocol: 'https', sessionID: SID, session: { tokenfence: { user: 'alice' } }, originalUrl: '/rest/x' });

describe('isUnsafe', () => {
  it.each(['GET', 'HEAD', 'OPTIONS', 'get'])('%s is safe', (method) => expect(isUnsafe({ method })).toBe(false));
  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND', 'CONNECT', 'post'])('%s is unsafe (fail closed)', (method) => expect(isUnsafe({ method })).toBe(true));
  it('a POST that method-override turned into a GET is still unsafe', () => {
    expect(isUnsafe({ method: 'GET', originalMethod: 'POST' })).toBe(true);
    expect(isUnsafe({ method: 'DELETE', originalMethod: 'POST' })).toBe(true);
    expect(isUnsafe({ method: 'GET', originalMethod: 'GET' })).toBe(false);
  });
});

describe('isSessionAuthenticated', () => {
  it('needs a non-empty user in the session login', () => {
    expect(isSessionAuthenticated({ session: { tokenfence: { user: 'alice' } } })).toBe(true);
    for (const s of [undefined, {}, { tokenfence: undefined }, { tokenfence: { user: '' } }, { tokenfence: { user: 42 } }, { tokenfence: {} }]) {
      expect(isSessionAuthenticated({ session: s as XsrfRequest['session'] })).toBe(false);
    }
  });
  it('is false when the guard authenticated the request (req.tokenfence set)', () => {
    expect(isSessionAuthenticated({ session: { tokenfence: { user: 'alice' } }, tokenfence: { user: 'bob' } })).toBe(false);
    expect(isSessionAuthenticated({ session: { tokenfence: { user: 'alice' } }, tokenfence: null })).toBe(true);
  });
});

describe('mayComeFromForm', () => {
  it.each([undefined, 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8', 'multipart/form-data; boundary=x', 'TEXT/PLAIN', 'text/plain;charset=utf-8', '', 'garbage', 'text/plain, application/json', 'application/json; charset'])(
    '%p could come from a form',
    (type) => expect(mayComeFromForm(type)).toBe(true),
  );
  it.each(['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'text/html', 'application/xml'])('%p could not', (type) => expect(mayComeFromForm(type)).toBe(false));
});

describe('isCrossSite', () => {
  it('is true for cross-site in any case and spacing, alone or in a list', () => {
    for (const v of ['cross-site', ' Cross-Site ', 'same-origin, cross-site']) expect(isCrossSite(v)).toBe(true);
    for (const v of [undefined, 'same-origin', 'same-site', 'none', '']) expect(isCrossSite(v)).toBe(false);
  });
});

describe('origins', () => {
  it('originOf serializes http(s) origins and refuses the rest', () => {
    expect(originOf('https://App.Test:443/path?q')).toBe('https://app.test');
    expect(originOf('http://app.test:8080')).toBe('http://app.test:8080');
    for (const v of ['null', '', 'garbage', 'file:///etc/passwd', 'data:text/plain,x', 'about:blank']) expect(originOf(v)).toBeUndefined();
  });
  it('ownOrigin is req.protocol and the Host header', () => {
    expect(ownOrigin({ protocol: 'https', headers: { host: 'app.test' } })).toBe('https://app.test');
    expect(ownOrigin({ protocol: 'http', headers: { host: '127.0.0.1:3000' } })).toBe('http://127.0.0.1:3000');
    expect(ownOrigin({ protocol: 'http', headers: {} })).toBeUndefined();
  });
});

describe('formTokensOf and hasNoCheck', () => {
  const header = 'x-atlassian-form-token';
  it('reads the body field, the raw query and the header', () => {
    expect(formTokensOf({ headers: { [header]: 'h' }, body: { atl_token: 'b' }, originalUrl: '/x?a=1&atl_token=q' }, header)).toEqual(['b', 'q', 'h']);
    expect(formTokensOf({ headers: {}, originalUrl: '/x?atl%5Ftoken=q%2Dx' }, header)).toEqual(['q-x']);
    expect(formTokensOf({ headers: {}, url: '/x?atl_token=u' }, header)).toEqual(['u']);
  });
  it('ignores repeated values, non-strings and inherited fields', () => {
    expect(formTokensOf({ headers: {}, body: { atl_token: ['a', 'b'] }, originalUrl: '/x?atl_token=a&atl_token=b' }, header)).toEqual([]);
    expect(formTokensOf({ headers: {}, body: Object.create({ atl_token: 'inherited' }) as object }, header)).toEqual([]);
    expect(formTokensOf({ headers: {}, body: 'atl_token=text' }, header)).toEqual([]);
  });
  it('no-check is trimmed and read in any case', () => {
    for (const v of ['no-check', ' No-Check ', 'NO-CHECK']) expect(hasNoCheck({ headers: { 'x-atlassian-token': v } }, 'x-atlassian-token')).toBe(true);
    for (const v of [undefined, 'nocheck', 'no-check, no-check', 'check', '']) expect(hasNoCheck({ headers: { 'x-atlassian-token': v } }, 'x-atlassian-token')).toBe(false);
  });
});

describe('checkXsrf', () => {
  const { check, tokens } = setup();
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  it('refuses a form POST of a session without token, explaining what it needs', () => {
    const error = check({ headers: form });
    expect(error).toBeInstanceOf(XsrfError);
    expect(error).toMatchObject({ status: 403, code: 'xsrf_check_failed', message: 'XSRF check failed', check: 'form-token' });
    expect(error!.explanation).toMatch(/X-Atlassian-Token: no-check.*atl_token.*X-Atlassian-Form-Token/);
    expect(error!.stack).toBe('XsrfError: XSRF check failed');
  });

  it('lets it through with no-check or a valid token from any source', () => {
    const token = tokens.mint(SID);
    expect(check({ headers: { ...form, 'x-atlassian-token': ' No-Check ' } })).toBeUndefined();
    expect(check({ headers: form, body: { atl_token: token } })).toBeUndefined();
    expect(check({ headers: form, originalUrl: `/rest/x?atl_token=${token}` })).toBeUndefined();
    expect(check({ headers: { ...form, 'x-atlassian-form-token': token } })).toBeUndefined();
    // One valid token is enough, whatever else is sent.
    expect(check({ headers: { ...form, 'x-atlassian-form-token': 'junk' }, body: { atl_token: token } })).toBeUndefined();
  });

  it('says when a token was sent but is not valid for the session', () => {
    const error = check({ headers: form, body: { atl_token: tokens.mint('other-session') } });
    expect(error).toMatchObject({ check: 'form-token' });
    expect(error!.explanation).toMatch(/not valid for this session/);
  });

  it('lets JSON through without a token, and checks every form-like content type', () => {
    expect(check({ headers: { 'content-type': 'application/json' } })).toBeUndefined();
    for (const type of [undefined, 'multipart/form-data; boundary=x', 'text/plain', 'nonsense']) expect(check({ headers: { 'content-type': type } })).toMatchObject({ check: 'form-token' });
  });

  it('never checks safe methods, anonymous sessions or token calls', () => {
    expect(check({ method: 'GET', headers: { ...form, 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' } })).toBeUndefined();
    expect(check({ session: {}, headers: form })).toBeUndefined();
    expect(check({ session: undefined, headers: form })).toBeUndefined();
    expect(check({ tokenfence: { user: 'bob' }, headers: { ...form, 'sec-fetch-site': 'cross-site' } })).toBeUndefined();
    expect(check({ headers: { ...form, authorization: 'Bearer x' } })).toMatchObject({ check: 'form-token' });
  });

  it('checks other methods, TRACE and unknown ones included', () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND']) expect(check({ method, headers: {} })).toMatchObject({ check: 'form-token' });
  });

  it('refuses Sec-Fetch-Site: cross-site even for JSON with no-check', () => {
    const error = check({ headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', 'x-atlassian-token': 'no-check' } });
    expect(error).toMatchObject({ check: 'fetch-site', code: 'xsrf_check_failed', message: 'XSRF check failed' });
    expect(error!.explanation).toMatch(/Sec-Fetch-Site: cross-site/);
    expect(check({ headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } })).toBeUndefined();
    expect(check({ headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' } })).toBeUndefined();
  });

  it('refuses a foreign Origin, Origin: null and, without Origin, a foreign Referer; allows its own', () => {
    const json = { 'content-type': 'application/json' };
    expect(check({ headers: { ...json, origin: 'https://app.test' } })).toBeUndefined();
    expect(check({ headers: { ...json, origin: 'https://evil.test' } })).toMatchObject({ check: 'origin' });
    expect(check({ headers: { ...json, origin: 'null' } })).toMatchObject({ check: 'origin' });
    expect(check({ headers: { ...json, origin: 'http://app.test' } })).toMatchObject({ check: 'origin' }); // scheme differs
    expect(check({ headers: { ...json, origin: 'https://app.test:8443' } })).toMatchObject({ check: 'origin' });
    expect(check({ headers: { ...json, referer: 'https://app.test/page?x' } })).toBeUndefined();
    expect(check({ headers: { ...json, referer: 'https://evil.test/app.test' } })).toMatchObject({ check: 'referer' });
    // Origin decides when both are sent.
    expect(check({ headers: { ...json, origin: 'https://app.test', referer: 'https://evil.test/' } })).toBeUndefined();
    expect(check({ headers: { ...json, origin: 'https://evil.test', referer: 'https://app.test/' } })).toMatchObject({ check: 'origin' });
  });

  it('refuses any Origin when the request has no Host to compare with', () => {
    const { config } = setup();
    expect(checkXsrf(config, tokens, { ...session(), headers: { origin: 'https://app.test' } } as XsrfRequest)).toMatchObject({ check: 'origin' });
  });

  it('the no-check header and a valid token do not lift the origin checks', () => {
    expect(check({ headers: { ...form, origin: 'https://evil.test', 'x-atlassian-token': 'no-check' } })).toMatchObject({ check: 'origin' });
    expect(check({ headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: { atl_token: tokens.mint(SID) } })).toMatchObject({ check: 'fetch-site' });
  });

  it('allowedOrigins replaces the own origin', () => {
    const { check: c } = setup({ allowedOrigins: ['https://jira.example.com', 'http://localhost:3000'] });
    const json = { 'content-type': 'application/json' };
    expect(c({ headers: { ...json, origin: 'https://JIRA.example.com:443' } })).toBeUndefined();
    expect(c({ headers: { ...json, origin: 'http://localhost:3000' } })).toBeUndefined();
    expect(c({ headers: { ...json, origin: 'https://app.test' } })).toMatchObject({ check: 'origin' });
  });

  it('each defence-in-depth check can be turned off', () => {
    const { check: c } = setup({ checkFetchSite: false, checkOrigin: false });
    expect(c({ headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' } })).toBeUndefined();
    expect(c({ headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' } })).toMatchObject({ check: 'form-token' });
  });

  it('uses the configured header names', () => {
    const { check: c, tokens: t } = setup({ noCheckHeader: 'X-No-Xsrf', tokenHeader: 'X-Form-Token' });
    expect(c({ headers: { 'x-no-xsrf': 'no-check' } })).toBeUndefined();
    expect(c({ headers: { 'x-atlassian-token': 'no-check' } })).toMatchObject({ check: 'form-token' });
    expect(c({ headers: { 'x-form-token': t.mint(SID) } })).toBeUndefined();
    expect(c({ headers: {} })!.explanation).toMatch(/"X-No-Xsrf: no-check".*X-Form-Token header/);
  });

  it('never puts a token or a header value in the error', () => {
    const token = tokens.mint('other');
    const error = check({ headers: { ...form, origin: 'https://evil.test/' } })!;
    const bad = check({ headers: form, body: { atl_token: token } })!;
    for (const e of [error, bad]) {
      const text = JSON.stringify(e.toJSON()) + (e.stack ?? '');
      expect(text).not.toContain('evil.test');
      expect(text).not.toContain(token);
      expect(text).not.toContain(SID);
    }
  });
});
