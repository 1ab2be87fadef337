// The §5 error body, statuses, and the response writer.
import { GUARD_ERROR_MESSAGE, GUARD_ERROR_STATUS, GuardError, HttpError, quoteParam, writeGuardError } from '../../../src/http/errors';
import type { ServerResponse } from 'node:http';

function fakeResponse(headersSent = false) {
  const headers: Record<string, unknown> = {};
  const res = {
    headersSent,
    statusCode: 200,
    body: undefined as string | undefined,
    destroyed: false,
    setHeader: (name: string, value: unknown) => (headers[name.toLowerCase()] = value),
    end: (body: string) => (res.body = body),
    destroy: () => (res.destroyed = true),
  };
  return { res, headers };
}

describe('GuardError', () => {
  it('has a status and a default message for every code', () => {
    for (const code of Object.keys(GUARD_ERROR_STATUS) as (keyof typeof GUARD_ERROR_STATUS)[]) {
      const error = new GuardError(code);
      expect(error.status).toBe(GUARD_ERROR_STATUS[code]);
      expect(error.message).toBe(GUARD_ERROR_MESSAGE[code]);
      expect(error.toJSON()).toEqual({ error: { status: error.status, code, message: error.message } });
    }
  });
  it('carries an explanation when given', () => {
    expect(new GuardError('restricted', undefined, 'line 1: no').toJSON().error.explanation).toBe('line 1: no');
  });
});

describe('writeGuardError', () => {
  it('writes the JSON body with no-store and the extra headers', () => {
    const { res, headers } = fakeResponse();
    writeGuardError(res as unknown as ServerResponse, new GuardError('expired'), { 'WWW-Authenticate': 'Bearer realm="x"' });
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body!)).toEqual({ error: { status: 401, code: 'expired', message: GUARD_ERROR_MESSAGE.expired } });
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(headers['www-authenticate']).toBe('Bearer realm="x"');
    expect(headers['content-length']).toBe(Buffer.byteLength(res.body!));
  });
  it('closes the connection when a response has already started', () => {
    const { res } = fakeResponse(true);
    writeGuardError(res as unknown as ServerResponse, new GuardError('unavailable'));
    expect(res.destroyed).toBe(true);
    expect(res.body).toBeUndefined();
  });
  it('quotes auth-params', () => {
    expect(quoteParam('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
  });
});

test('a refusal outside the scope names the option that moves the scope (issue 13)', () => {
  expect(new GuardError('outside_token_scope').message).toMatch(/outside the token guard's scope .*tokenGuard's `scope` option/);
});

test('every part of tokenfence answers with one error class and one JSON body shape (HttpError)', () => {
  const guard = new GuardError('restricted', undefined, 'line 1 allows GET only');
  expect(guard).toBeInstanceOf(HttpError);
  expect(guard.name).toBe('GuardError');
  const other = new HttpError(403, 'xsrf_check_failed', 'XSRF check failed');
  expect(other.toJSON()).toEqual({ error: { status: 403, code: 'xsrf_check_failed', message: 'XSRF check failed' } });
  expect(guard.toJSON()).toEqual({ error: { status: 403, code: 'restricted', message: GUARD_ERROR_MESSAGE.restricted, explanation: 'line 1 allows GET only' } });
});
