// Scope: path-to-regexp 8 patterns matched with the router's case and trailing-slash rules.
import { DEFAULT_SCOPE, Scope } from '../../../../src/http/guard/scope';

describe('Scope', () => {
  it('defaults to everything under /rest', () => {
    const scope = new Scope();
    expect(scope.patterns).toEqual(DEFAULT_SCOPE);
    expect(scope.matches('/rest/api/2/issue', false, false)).toBe(true);
    expect(scope.matches('/REST/api', false, false)).toBe(true);
    expect(scope.matches('/REST/api', true, false)).toBe(false);
    expect(scope.matches('/rest', false, false)).toBe(false);
    expect(scope.matches('/restx/api', false, false)).toBe(false);
    expect(scope.matches('/admin', false, false)).toBe(false);
  });

  it('takes several patterns and named parameters', () => {
    const scope = new Scope(['/rest/api/:version/*path', '/graphql']);
    expect(scope.matches('/rest/api/2/issue', false, false)).toBe(true);
    expect(scope.matches('/graphql', false, false)).toBe(true);
    expect(scope.matches('/graphql/', false, false)).toBe(true);
    expect(scope.matches('/graphql/', false, true)).toBe(false);
    expect(scope.matches('/rest/other', false, false)).toBe(false);
  });

  it('answers a repeated path like a fresh scope, in every case and strict mode', () => {
    const patterns = ['/rest/*path', '/graphql'];
    const scope = new Scope(patterns);
    const paths = ['/rest/a', '/REST/a', '/graphql/', '/graphql', '/other', '/rest/a'];
    for (let round = 0; round < 3; round++) {
      for (const path of paths) {
        for (const [cs, strict] of [[false, false], [true, false], [false, true], [true, true], [false, false]] as const) {
          expect([path, cs, strict, scope.matches(path, cs, strict)]).toEqual([path, cs, strict, new Scope(patterns).matches(path, cs, strict)]);
          expect(scope.matches(path, cs, strict)).toBe(new Scope(patterns).matches(path, cs, strict));
        }
      }
    }
  });

  it.each([
    [[], /non-empty array/],
    ['rest/*path', /starting with "\/"/],
    ['/rest/*', /not a path-to-regexp 8 pattern.*\/rest\/\*path/],
    ['/rest/(.*)', /not a path-to-regexp 8 pattern/],
    [42, /must be a path pattern/],
  ])('refuses %j with a TypeError that says how to fix it', (patterns, message) => {
    expect(() => new Scope(patterns as never)).toThrow(TypeError);
    expect(() => new Scope(patterns as never)).toThrow(message);
  });
});
