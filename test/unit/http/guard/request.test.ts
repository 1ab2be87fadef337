// What the guard reads off a request: target, routing settings, candidate methods, client details.
import type { GuardRequest } from '../../../../src/http/guard/request';
import { candidateMethods, clientIp, dispatchTargets, pathPart, requestIdOf, routingOf, settingsOf, targetOf, userAgentOf } from '../../../../src/http/guard/request';

const req = (over: Partial<GuardRequest> & { headers?: Record<string, string> }): GuardRequest => ({ method: 'GET', url: '/', headers: {}, ...over }) as unknown as GuardRequest;

describe('targetOf and pathPart', () => {
  it('prefers originalUrl, which survives mounting', () => {
    expect(targetOf(req({ url: '/api', originalUrl: '/rest/api?x=1' }))).toBe('/rest/api?x=1');
    expect(targetOf(req({ url: '/api?x' }))).toBe('/api?x');
    expect(pathPart('/a/b?c=d?e')).toBe('/a/b');
    expect(pathPart('/a')).toBe('/a');
  });
});

describe('dispatchTargets', () => {
  const withHeaders = (over: Partial<GuardRequest>, pairs: Array<[string, string]>) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of pairs) headers[name.toLowerCase()] = headers[name.toLowerCase()] === undefined ? value : `${headers[name.toLowerCase()]}, ${value}`;
    return req({ ...over, headers, rawHeaders: pairs.flat() } as never);
  };
  it('is the target as received, once, when nothing rewrote it', () => {
    expect(dispatchTargets(withHeaders({ url: '/api/x?q=1', baseUrl: '/rest' } as Partial<GuardRequest>, []), '/rest/api/x?q=1', {})).toEqual(['/rest/api/x?q=1']);
    expect(dispatchTargets(withHeaders({ url: '/rest/x' }, []), '/rest/x', {})).toEqual(['/rest/x']);
  });
  it('adds the baseUrl + url it sees when a host rewrote req.url before the guard, but not Express’s / after a mount path', () => {
    expect(dispatchTargets(withHeaders({ url: '/rest/admin' }, []), '/rest/x', {})).toEqual(['/rest/x', '/rest/admin']);
    expect(dispatchTargets(withHeaders({ url: '/?q=1', baseUrl: '/rest/api' } as Partial<GuardRequest>, []), '/rest/api?q=1', {})).toEqual(['/rest/api?q=1']);
    expect(dispatchTargets(withHeaders({ url: '/?q=2', baseUrl: '/rest/api' } as Partial<GuardRequest>, []), '/rest/api?q=1', {})).toEqual(['/rest/api?q=1', '/rest/api/?q=2']);
  });
  it('adds the path of X-Original-URL and X-Rewrite-URL, absolute ones without scheme and host; one sent twice is ambiguous', () => {
    const r = withHeaders({ url: '/rest/x' }, [['X-Original-URL', '/rest/admin?a=1'], ['X-Rewrite-URL', 'https://evil.example:8443/admin']]);
    expect(dispatchTargets(r, '/rest/x', r.headers)).toEqual(['/rest/x', '/rest/admin?a=1', '/admin']);
    const twice = withHeaders({ url: '/rest/x' }, [['x-original-url', '/rest/x'], ['X-Original-Url', '/admin']]);
    expect(dispatchTargets(twice, '/rest/x', twice.headers)).toBe('the request has more than one x-original-url header');
    const same = withHeaders({ url: '/rest/x' }, [['X-Original-URL', '/rest/x']]);
    expect(dispatchTargets(same, '/rest/x', same.headers)).toEqual(['/rest/x']);
  });
});

describe('routingOf', () => {
  const app = (settings: Record<string, unknown>) => ({ get: (name: string) => settings[name], settings });
  it('follows the app settings unless the options say otherwise', () => {
    expect(routingOf(settingsOf(req({})), undefined, undefined)).toEqual({ caseSensitive: false, strict: false });
    expect(routingOf(settingsOf(req({ app: app({ 'case sensitive routing': true, 'strict routing': true }) })), undefined, undefined)).toEqual({ caseSensitive: true, strict: true });
    expect(routingOf(settingsOf(req({ app: app({ 'case sensitive routing': true }) })), false, true)).toEqual({ caseSensitive: false, strict: true });
  });
  it('finds the app on the request’s prototype, as Express puts it there, one prototype per app', () => {
    const appRequest = (settings: Record<string, unknown>) => ({ app: app(settings) });
    const protoA = appRequest({ 'strict routing': true });
    const protoB = appRequest({ 'case sensitive routing': true });
    const onProto = (proto: object) => Object.assign(Object.create(proto) as GuardRequest, { method: 'GET', url: '/', headers: {} });
    for (let i = 0; i < 3; i++) {
      expect(routingOf(settingsOf(onProto(protoA)), undefined, undefined)).toEqual({ caseSensitive: false, strict: true });
      expect(routingOf(settingsOf(onProto(protoB)), undefined, undefined)).toEqual({ caseSensitive: true, strict: false });
    }
    // A change of setting after the first request is seen by the next one.
    protoA.app.settings['case sensitive routing'] = true;
    expect(routingOf(settingsOf(onProto(protoA)), undefined, undefined)).toEqual({ caseSensitive: true, strict: true });
    expect(settingsOf(onProto(Object.prototype))).toBeUndefined();
  });
  it('inherits a parent app’s settings, as a mounted Express app does', () => {
    const parent = { 'strict routing': true };
    expect(routingOf(settingsOf(req({ app: app(Object.create(parent) as Record<string, unknown>) })), undefined, undefined)).toEqual({ caseSensitive: false, strict: true });
  });
});

describe('candidateMethods', () => {
  const methods = (r: GuardRequest, target = '/x') => [...candidateMethods(r, target)].sort();

  it('is the request method alone for an ordinary request', () => {
    expect(methods(req({ method: 'post' }))).toEqual(['POST']);
  });

  it('adds originalMethod and every override header value', () => {
    const r = req({ method: 'POST', originalMethod: 'get', headers: { 'x-http-method-override': 'delete, put', 'x-http-method': 'PATCH', 'x-method-override': ' options ' } });
    expect(methods(r)).toEqual(['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
  });

  it.each([
    ['/x?_method=DELETE', 'DELETE'],
    ['/x?_METHOD=delete', 'DELETE'],
    ['/x?%5Fmethod=DELETE', 'DELETE'],
    ['/x?_method[]=PUT', 'PUT'],
    ['/x?a=1&_method=PATCH&b', 'PATCH'],
    ['/x?_method=%44ELETE', 'DELETE'],
    ['/x?_method=DEL%zzETE', 'DEL%ZZETE'],
    // Any letter may be encoded: querystring and qs decode the name before looking it up.
    ['/x?_%6Dethod=DELETE', 'DELETE'],
    ['/x?_meth%6Fd=DELETE', 'DELETE'],
    ['/x?%5F%6D%65%74%68%6F%64=DELETE', 'DELETE'],
    // qs reads a name that starts with a bracket group as the group's content.
    ['/x?[_method]=DELETE', 'DELETE'],
    ['/x?%5B_method%5D=DELETE', 'DELETE'],
    ['/x?[_method][0]=PATCH', 'PATCH'],
  ])('reads the _method query parameter in %s', (target, extra) => {
    expect(methods(req({ method: 'GET' }), target)).toEqual(['GET', extra].sort());
  });

  it('reads _method from a parsed body, own properties only', () => {
    expect(methods(req({ method: 'POST', body: { _method: 'DELETE' } }))).toEqual(['DELETE', 'POST']);
    expect(methods(req({ method: 'POST', body: Object.create({ _method: 'DELETE' }) }))).toEqual(['POST']);
    expect(methods(req({ method: 'POST', body: { _method: ['PUT', 'PATCH'] } }))).toEqual(['PATCH', 'POST', 'PUT']);
  });
});

describe('clientIp', () => {
  const socket = { remoteAddress: '10.0.0.7' } as never;
  it('is the socket address without trust proxy, Express\'s req.ip with it', () => {
    expect(clientIp(req({ socket, ip: '192.0.2.1' }), { 'trust proxy': false })).toBe('10.0.0.7');
    expect(clientIp(req({ socket, ip: '192.0.2.1' }), { 'trust proxy': true })).toBe('192.0.2.1');
    expect(clientIp(req({ socket }), undefined)).toBe('10.0.0.7');
    expect(clientIp(req({}), undefined)).toBeNull();
  });
});

describe('requestIdOf and userAgentOf', () => {
  it('keeps a well-formed request id only', () => {
    expect(requestIdOf({ 'x-request-id': 'abc-123:7' })).toBe('abc-123:7');
    expect(requestIdOf({ 'x-request-id': 'a b' })).toBeUndefined();
    expect(requestIdOf({ 'x-request-id': 'x'.repeat(129) })).toBeUndefined();
  });
  it('cuts the user agent to 256 characters', () => {
    expect(userAgentOf({ 'user-agent': 'u'.repeat(300) })).toHaveLength(256);
    expect(userAgentOf({})).toBeUndefined();
  });
});
