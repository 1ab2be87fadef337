// Audit events of requests answered outside the guard (src/http/request-event.ts): the path without its query,
// and nothing a client chose can break a text line.
import type { Request } from 'express';
import { formatAuditMessage } from '../../../src/audit/sinks';
import { requestEvent } from '../../../src/http/request-event';

const req = (over: Partial<Record<string, unknown>> = {}) =>
  ({ method: 'POST', originalUrl: '/rest/api/2/issue?atl_token=secret-form-token', headers: { 'user-agent': 'curl/8' }, ip: '127.0.0.1', socket: {}, ...over }) as unknown as Request;

describe('requestEvent', () => {
  test('takes the path without its query (queries carry form tokens), and the request id only when well formed', () => {
    const event = requestEvent('xsrf.denied', req({ headers: { 'x-request-id': 'ab-12' } }), { user: 'alice', via: 'session', outcome: 'failure', reason: 'origin', status: 403 });
    expect(event).toMatchObject({ type: 'xsrf.denied', user: 'alice', via: 'session', method: 'POST', path: '/rest/api/2/issue', ip: '127.0.0.1', requestId: 'ab-12', status: 403 });
    expect(JSON.stringify(event)).not.toContain('secret-form-token');
    expect(Object.isFrozen(event)).toBe(true);
    expect(requestEvent('xsrf.denied', req({ headers: { 'x-request-id': 'bad id\n' } }), { user: null, outcome: 'failure' }).requestId).toBeUndefined();
  });

  test('control and line-separator characters in a user name or user agent are written as \\uXXXX: one event, one line', () => {
    const event = requestEvent('session.login_failed', req({ headers: { 'user-agent': 'x\u2028y' } }), { user: 'mallory\naudit: admin logged in with a session', outcome: 'failure' });
    expect(event.user).toBe('mallory\\u000aaudit: admin logged in with a session');
    expect(event.userAgent).toBe('x\\u2028y');
    expect(formatAuditMessage(event).split('\n')).toHaveLength(1);
  });

  test('long values are cut', () => {
    const event = requestEvent('session.login_failed', req({ originalUrl: `/${'a'.repeat(5000)}` }), { user: 'u'.repeat(1000), outcome: 'failure' });
    expect(event.user!.length).toBeLessThanOrEqual(256);
    expect(event.path!.length).toBeLessThanOrEqual(1025);
  });
});
