// The toolkit without HTTP: formToken/verifyFormToken/checkRequest on plain requests, the standalone
// formToken after the middleware, and its TypeErrors.
import type { NextFunction, Request, Response } from 'express';
import { formToken, xsrfProtection, XsrfError } from '../../../../src/http/xsrf/index';

const secret = 'a-test-secret-of-at-least-32-characters!';
const loggedIn = (sessionID = 'sid-1') => ({ method: 'POST', headers: {}, sessionID, session: { tokenfence: { user: 'alice', loginAt: 0 } } }) as unknown as Request;

describe('xsrfProtection toolkit', () => {
  const xsrf = xsrfProtection({ secret });

  it('mints and verifies tokens for the request\'s session', () => {
    const req = loggedIn();
    const token = xsrf.formToken(req);
    expect(xsrf.verifyFormToken(req, token)).toBe(true);
    expect(xsrf.verifyFormToken(loggedIn('sid-2'), token)).toBe(false);
    expect(xsrf.verifyFormToken({ headers: {} } as Request, token)).toBe(false);
    expect(xsrf.verifyFormToken(req, undefined)).toBe(false);
  });

  it('another xsrfProtection with another secret does not accept the tokens', () => {
    const other = xsrfProtection({ secret: 'another-secret-of-at-least-32-characters' });
    expect(other.verifyFormToken(loggedIn(), xsrf.formToken(loggedIn()))).toBe(false);
  });

  it('checkRequest gives the refusal without answering', () => {
    expect(xsrf.checkRequest(loggedIn())).toBeInstanceOf(XsrfError);
    const req = loggedIn();
    (req.headers as Record<string, string>)['x-atlassian-form-token'] = xsrf.formToken(req);
    expect(xsrf.checkRequest(req)).toBeUndefined();
  });

  it('formToken on a request without a session is a TypeError naming express-session and xsrfProtection', () => {
    expect(() => xsrf.formToken({ headers: {} } as Request)).toThrow(new TypeError('formToken: the request has no session; mount express-session before xsrfProtection'));
  });

  it('the standalone formToken works after the middleware, and names xsrfProtection when it did not run', () => {
    const req = loggedIn();
    expect(() => formToken(req)).toThrow(/no xsrfProtection middleware has run for this request/);
    const next = jest.fn() as NextFunction;
    const anonymous = { method: 'GET', headers: {}, sessionID: 'sid-1', session: {} } as unknown as Request;
    const keys = Object.keys(anonymous);
    xsrf(anonymous, {} as Response, next);
    expect(next).toHaveBeenCalledWith();
    const token = formToken(anonymous);
    expect(xsrf.verifyFormToken(req, token)).toBe(true);
    // The minter is kept beside the request, not on it: it shows up in no copy or log of the request.
    expect(Object.keys(anonymous)).toEqual(keys);
    expect(Object.getOwnPropertySymbols(anonymous)).toHaveLength(0);
    const bare = { method: 'GET', headers: {} } as unknown as Request;
    xsrf(bare, {} as Response, next);
    expect(() => formToken(bare)).toThrow(/no session; mount express-session before xsrfProtection/);
  });
});
