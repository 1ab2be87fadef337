// xsrfProtection's options: defaults, and a TypeError naming the option for every mistake.
import { compileXsrfOptions, DEFAULT_NO_CHECK_HEADER, DEFAULT_TOKEN_HEADER, type XsrfOptions } from '../../../../src/http/xsrf/options';
import { xsrfProtection } from '../../../../src/http/xsrf/index';

const secret = 'a-test-secret-of-at-least-32-characters!';
const compile = (options: unknown) => () => compileXsrfOptions(options as XsrfOptions);

describe('xsrfProtection options', () => {
  it('has the documented defaults', () => {
    const config = compileXsrfOptions({ secret });
    expect(config).toMatchObject({ noCheckHeader: 'x-atlassian-token', tokenHeader: 'x-atlassian-form-token', checkFetchSite: true, checkOrigin: true, allowedOrigins: undefined, handler: undefined });
    expect([DEFAULT_NO_CHECK_HEADER, DEFAULT_TOKEN_HEADER]).toEqual(['X-Atlassian-Token', 'X-Atlassian-Form-Token']);
  });

  it('normalises allowedOrigins, alone or in a list', () => {
    expect([...compileXsrfOptions({ secret, allowedOrigins: 'HTTPS://Jira.Example.com:443' }).allowedOrigins!]).toEqual(['https://jira.example.com']);
    expect([...compileXsrfOptions({ secret, allowedOrigins: ['http://localhost:3000', 'https://a.test'] }).allowedOrigins!]).toEqual(['http://localhost:3000', 'https://a.test']);
  });

  it.each<[string, unknown, RegExp]>([
    ['no options', undefined, /xsrfProtection needs an options object/],
    ['null', null, /xsrfProtection needs an options object/],
    ['no secret', {}, /options\.secret is required.*randomBytes\(32\)/],
    ['a short secret', { secret: 'short' }, /options\.secret must be at least 32 characters long/],
    ['a bad rotation list', { secret: [secret, Buffer.alloc(8)] }, /options\.secret\[1\] must be at least 32 bytes/],
    ['a typo', { secret, allowedOrigin: ['https://a.test'] }, /unknown option "allowedOrigin"; did you mean "allowedOrigins"\?/],
    ['another typo', { secret, tokenHeadr: 'X-T' }, /did you mean "tokenHeader"\?/],
    ['csrf-csrf getSecret', { secret, getSecret: () => secret }, /"getSecret".*give the secret itself as `secret`/],
    ['csrf-csrf cookieName', { secret, cookieName: '__Host-x' }, /"cookieName".*not kept in a cookie/],
    ['csurf cookie', { secret, cookie: true }, /"cookie".*not kept in a cookie/],
    ['ignoredMethods', { secret, ignoredMethods: ['GET'] }, /"ignoredMethods".*GET, HEAD and OPTIONS are never checked/],
    ['getSessionIdentifier', { secret, getSessionIdentifier: () => 'x' }, /"getSessionIdentifier".*req\.sessionID/],
    ['getCsrfTokenFromRequest', { secret, getCsrfTokenFromRequest: () => 'x' }, /atl_token body field or query parameter/],
    ['headerName', { secret, headerName: 'x-csrf-token' }, /`noCheckHeader`.*`tokenHeader`/],
    ['a bad header name', { secret, noCheckHeader: 'X Token' }, /options\.noCheckHeader must be an HTTP header name/],
    ['a non-string header name', { secret, tokenHeader: 42 }, /options\.tokenHeader must be an HTTP header name/],
    ['one header for both', { secret, noCheckHeader: 'X-Token', tokenHeader: 'x-token' }, /must be different headers/],
    ['a non-boolean checkOrigin', { secret, checkOrigin: 'yes' }, /options\.checkOrigin must be a boolean/],
    ['a non-boolean checkFetchSite', { secret, checkFetchSite: 1 }, /options\.checkFetchSite must be a boolean/],
    ['a non-function handler', { secret, handler: 'json' }, /options\.handler must be a function, got string/],
    ['an origin with a path', { secret, allowedOrigins: ['https://a.test/app'] }, /options\.allowedOrigins\[0\] must be an origin such as/],
    ['an origin with a trailing slash', { secret, allowedOrigins: 'https://a.test/' }, /options\.allowedOrigins must be an origin/],
    ['a wildcard origin', { secret, allowedOrigins: ['*'] }, /must be an origin/],
    ['a non-HTTP origin', { secret, allowedOrigins: ['file:///x'] }, /must be an origin/],
    ['a non-string origin', { secret, allowedOrigins: [42] }, /must be an origin .*got number/],
    ['no origins', { secret, allowedOrigins: [] }, /at least one origin.*checkOrigin: false/],
    ['origins without the check', { secret, allowedOrigins: ['https://a.test'], checkOrigin: false }, /allowedOrigins has no effect with checkOrigin: false/],
  ])('throws a TypeError for %s', (_name, options, message) => {
    expect(compile(options)).toThrow(TypeError);
    expect(compile(options)).toThrow(message);
    expect(() => xsrfProtection(options as XsrfOptions)).toThrow(message);
  });
});
