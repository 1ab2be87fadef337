// Unit tests of the audit sinks (SPEC §6): text lines, records, the fan-out log, callback, pino and JSON-lines sinks.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { auditLine, auditRecord, callbackSink, createAuditLog, formatAuditMessage, JsonLinesSink, pinoSink, type AuditSink } from '../../../src/audit/sinks';
import type { AuditEvent, AuditHook } from '../../../src/audit/events';

const AT = new Date('2026-03-04T05:06:07.089Z');

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { type: 'token.used', at: AT, user: 'alice', tokenId: 'AbCdEf123456', via: 'bearer', method: 'GET', path: '/rest/api/2/myself', ip: '127.0.0.1', outcome: 'success', ...overrides };
}

/** Lets queued promise callbacks (a rejected sink's catch) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfence-audit-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

describe('formatAuditMessage', () => {
  test('token.used is exactly Jira\'s line', () => {
    expect(formatAuditMessage(event())).toBe('alice has been authenticated via API Token (AbCdEf123456)');
  });

  test('token.denied names the user, the id and the reason', () => {
    expect(formatAuditMessage(event({ type: 'token.denied', outcome: 'failure', reason: 'restricted' }))).toBe('API Token call refused for alice (AbCdEf123456): restricted');
  });

  test('token.denied without user, id or reason', () => {
    expect(formatAuditMessage(event({ type: 'token.denied', outcome: 'failure', user: null, tokenId: undefined }))).toBe('API Token call refused for anonymous (unknown id): denied');
  });

  test.each([
    ['session.login', undefined, 'alice logged in with a session'],
    ['session.login_failed', 'login_failed', 'Login failed for alice'],
    ['session.login_denied', 'captcha_required', 'Login refused for alice: captcha_required'],
    ['session.logout', undefined, 'alice logged out'],
    ['xsrf.denied', 'origin', 'XSRF check failed for alice: origin'],
  ] as const)('%s', (type, reason, line) => {
    expect(formatAuditMessage(event({ type, via: 'session', tokenId: undefined, reason }))).toBe(line);
  });

  test('token.created', () => {
    expect(formatAuditMessage(event({ type: 'token.created' }))).toBe('API Token (AbCdEf123456) created by alice');
  });

  test('token.updated', () => {
    expect(formatAuditMessage(event({ type: 'token.updated', user: 'admin' }))).toBe('API Token (AbCdEf123456) updated by admin');
  });

  test('token.rotated with and without a reason', () => {
    expect(formatAuditMessage(event({ type: 'token.rotated', reason: 'replaced by ZZZZZZZZZZZZ' }))).toBe('API Token (AbCdEf123456) rotated by alice, replaced by ZZZZZZZZZZZZ');
    expect(formatAuditMessage(event({ type: 'token.rotated' }))).toBe('API Token (AbCdEf123456) rotated by alice');
  });

  test('token.revoked', () => {
    expect(formatAuditMessage(event({ type: 'token.revoked' }))).toBe('API Token (AbCdEf123456) revoked by alice');
  });

  test('token.purged', () => {
    expect(formatAuditMessage(event({ type: 'token.purged', user: null }))).toBe('API Token (AbCdEf123456) purged');
  });

  test('a null user reads as anonymous', () => {
    expect(formatAuditMessage(event({ user: null }))).toBe('anonymous has been authenticated via API Token (AbCdEf123456)');
  });
});

describe('auditRecord', () => {
  test('has an ISO time, every set field and the text line as message', () => {
    const record = auditRecord(event({ requestId: 'req-1', line: 2 }));
    expect(record).toEqual({
      type: 'token.used',
      at: '2026-03-04T05:06:07.089Z',
      user: 'alice',
      tokenId: 'AbCdEf123456',
      via: 'bearer',
      method: 'GET',
      path: '/rest/api/2/myself',
      ip: '127.0.0.1',
      outcome: 'success',
      requestId: 'req-1',
      line: 2,
      message: 'alice has been authenticated via API Token (AbCdEf123456)',
    });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
  });

  test('does not change the event', () => {
    const e = event();
    auditRecord(e);
    expect(e.at).toBe(AT);
  });
});

describe('createAuditLog', () => {
  test('sends each event to every sink, functions and objects alike', () => {
    const a: AuditEvent[] = [];
    const b: AuditEvent[] = [];
    const c: AuditEvent[] = [];
    const log = createAuditLog([(e) => void a.push(e), { write: (e) => void b.push(e) }, callbackSink((e) => void c.push(e))]);
    const e1 = event();
    const e2 = event({ type: 'token.revoked' });
    log(e1);
    log(e2);
    expect(a).toEqual([e1, e2]);
    expect(b).toEqual([e1, e2]);
    expect(c).toEqual([e1, e2]);
  });

  test('freezes each event: a sink that changes it throws, is reported, and the sinks after it get it unchanged', () => {
    const errors: unknown[] = [];
    const seen: Array<string | null> = [];
    const log = createAuditLog(
      [
        (e) => {
          (e as { user: string | null }).user = 'rewritten';
        },
        (e) => void seen.push(e.user),
      ],
      { onError: (error) => errors.push(error) },
    );
    const e = event({ user: 'alice' });
    log(e);
    expect(Object.isFrozen(e)).toBe(true);
    expect(e.user).toBe('alice');
    expect(seen).toEqual(['alice']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
  });

  test('a sink that throws is reported with a context and the other sinks still get the event', () => {
    const errors: Array<[unknown, string]> = [];
    const got: AuditEvent[] = [];
    const boom = new Error('sink down');
    const log = createAuditLog(
      [
        () => {
          throw boom;
        },
        (e) => void got.push(e),
      ],
      { onError: (error, context) => errors.push([error, context]) },
    );
    expect(() => log(event())).not.toThrow();
    expect(got).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe(boom);
    expect(typeof errors[0]![1]).toBe('string');
    expect(errors[0]![1]).not.toBe('');
  });

  test('a sink that rejects is reported and the other sinks still get the event', async () => {
    const errors: Array<[unknown, string]> = [];
    const got: AuditEvent[] = [];
    const boom = new Error('async sink down');
    const log = createAuditLog([{ write: () => Promise.reject(boom) }, (e) => void got.push(e)], { onError: (error, context) => errors.push([error, context]) });
    expect(() => log(event())).not.toThrow();
    expect(got).toHaveLength(1);
    await settle();
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe(boom);
    expect(errors[0]![1]).toMatch(/\S/);
  });

  test('the default onError prints the message to console.error', () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const log = createAuditLog([
        () => {
          throw new Error('sink exploded');
        },
      ]);
      log(event());
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0]![0])).toContain('sink exploded');
    } finally {
      spy.mockRestore();
    }
  });

  test.each([
    ['null', null],
    ['a string', 'audit.jsonl'],
    ['a number', 42],
    ['an object without write', { close: () => undefined }],
    ['an object whose write is not a function', { write: 'yes' }],
  ])('a sink that is %s throws a TypeError at creation', (_name, sink) => {
    expect(() => createAuditLog([sink as unknown as AuditSink])).toThrow(TypeError);
  });

  test('a non-array throws a TypeError', () => {
    expect(() => createAuditLog((() => undefined) as unknown as AuditHook[])).toThrow(TypeError);
  });

  test('close() closes every sink and reports a failing close', async () => {
    const closed: string[] = [];
    const errors: Array<[unknown, string]> = [];
    const boom = new Error('close failed');
    const log = createAuditLog(
      [
        { write: () => undefined, close: () => void closed.push('a') },
        {
          write: () => undefined,
          close: async () => {
            closed.push('b');
            throw boom;
          },
        },
        { write: () => undefined, close: async () => void closed.push('c') },
        () => undefined,
      ],
      { onError: (error, context) => errors.push([error, context]) },
    );
    await expect(log.close()).resolves.toBeUndefined();
    expect(closed.sort()).toEqual(['a', 'b', 'c']);
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe(boom);
    expect(errors[0]![1]).toMatch(/close/);
  });

  test('a close that throws synchronously is reported too', async () => {
    const errors: unknown[] = [];
    const closed: string[] = [];
    const boom = new Error('sync close failure');
    const log = createAuditLog(
      [
        {
          write: () => undefined,
          close: () => {
            throw boom;
          },
        },
        { write: () => undefined, close: () => void closed.push('other') },
      ],
      { onError: (error) => errors.push(error) },
    );
    await expect(log.close()).resolves.toBeUndefined();
    expect(closed).toEqual(['other']);
    expect(errors).toEqual([boom]);
  });
});

describe('callbackSink', () => {
  test('calls the function with each event', () => {
    const got: AuditEvent[] = [];
    const sink = callbackSink((e) => void got.push(e));
    const e = event();
    sink.write(e);
    expect(got).toEqual([e]);
  });

  test('needs a function', () => {
    expect(() => callbackSink('nope' as unknown as AuditHook)).toThrow(TypeError);
  });
});

describe('pinoSink with a real pino logger', () => {
  function capture() {
    const lines: string[] = [];
    const stream = { write: (chunk: string) => void lines.push(chunk) };
    const logger = pino({ level: 'info' }, stream);
    return { logger, records: () => lines.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  test('invisible and bidirectional characters become visible \\uXXXX text, so one name cannot pass for another', () => {
    const { logger, records } = capture();
    pinoSink(logger).write(event({ user: 'ad\u200bmin', path: '/a\u2028b\u202e' }));
    const [record] = records();
    expect(record!.msg).toBe('ad\\u200bmin has been authenticated via API Token (AbCdEf123456)');
    expect(record!.audit).toMatchObject({ user: 'ad\\u200bmin', path: '/a\\u2028b\\u202e' });
  });

  test('a success is logged at info with the event under audit and the text line as msg', () => {
    const { logger, records } = capture();
    pinoSink(logger).write(event({ requestId: 'r-1' }));
    const [record, ...rest] = records();
    expect(rest).toEqual([]);
    expect(record!.level).toBe(30);
    expect(record!.msg).toBe('alice has been authenticated via API Token (AbCdEf123456)');
    expect(record!.audit).toEqual({
      type: 'token.used',
      at: '2026-03-04T05:06:07.089Z',
      user: 'alice',
      tokenId: 'AbCdEf123456',
      via: 'bearer',
      method: 'GET',
      path: '/rest/api/2/myself',
      ip: '127.0.0.1',
      outcome: 'success',
      requestId: 'r-1',
    });
  });

  test('a failure is logged at warn', () => {
    const { logger, records } = capture();
    pinoSink(logger).write(event({ type: 'token.denied', outcome: 'failure', reason: 'revoked', status: 401 }));
    const [record] = records();
    expect(record!.level).toBe(40);
    expect(record!.msg).toBe('API Token call refused for alice (AbCdEf123456): revoked');
    expect(record!.audit).toMatchObject({ type: 'token.denied', outcome: 'failure', reason: 'revoked', status: 401, at: '2026-03-04T05:06:07.089Z' });
  });

  test('works through createAuditLog; a logger below info drops successes only', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (chunk: string) => void lines.push(chunk) });
    const log = createAuditLog([pinoSink(logger)]);
    log(event());
    log(event({ type: 'token.denied', outcome: 'failure', reason: 'unknown' }));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).level).toBe(40);
  });

  test('needs a logger with info and warn', () => {
    expect(() => pinoSink({ info: () => undefined } as never)).toThrow(TypeError);
    expect(() => pinoSink(undefined as never)).toThrow(TypeError);
  });
});

describe('auditLine', () => {
  test('is JSON.stringify(auditRecord(event)) plus a new line, for any event', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            type: fc.constantFrom<AuditEvent['type']>('token.used', 'token.denied', 'token.created', 'token.revoked'),
            at: fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
            user: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
            tokenId: fc.option(fc.string(), { nil: undefined }),
            via: fc.constantFrom<'bearer' | 'basic' | undefined>('bearer', 'basic', undefined),
            method: fc.constantFrom('GET', 'POST', 'PROPFIND'),
            path: fc.string({ unit: 'binary' }),
            ip: fc.option(fc.ipV6(), { nil: null }),
            userAgent: fc.string({ unit: 'binary' }),
            outcome: fc.constantFrom<'success' | 'failure'>('success', 'failure'),
            reason: fc.string({ unit: 'binary' }),
            requestId: fc.string(),
            status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
            line: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
          },
          { requiredKeys: ['type', 'at', 'user', 'outcome'] },
        ),
        (event) => {
          const line = auditLine(event as AuditEvent);
          // JSON.stringify's text, with the characters a log viewer may break lines on or reorder by escaped too.
          const invisible = /[\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
          const escaped = JSON.stringify(auditRecord(event as AuditEvent)).replace(invisible, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
          expect(line).toBe(`${escaped}\n`);
          // And what it says is the event: every field that is set, the time in ISO form, the text line.
          const parsed = JSON.parse(line) as Record<string, unknown>;
          for (const [key, value] of Object.entries(event)) {
            if (value !== undefined) expect(parsed[key]).toEqual(value instanceof Date ? value.toISOString() : value);
          }
          expect(parsed.message).toBe(formatAuditMessage(event as AuditEvent));
        },
      ),
    );
  });

  test('fields come in the order of SPEC §6 whatever the order of the event, and nothing else is written', () => {
    const ordered = event({ reason: 'restricted', requestId: 'r-1', userAgent: 'curl/8', line: 3, status: 403 });
    const shuffled = Object.fromEntries(Object.entries(ordered).reverse()) as unknown as AuditEvent;
    const withExtra = { ...ordered, secret: 'tfk_should_not_be_here' } as AuditEvent;
    const line = auditLine(ordered);
    expect(auditLine(shuffled)).toBe(line);
    expect(auditLine(withExtra)).toBe(line);
    expect(Object.keys(JSON.parse(line) as object)).toEqual(['type', 'at', 'user', 'tokenId', 'via', 'method', 'path', 'ip', 'userAgent', 'outcome', 'reason', 'requestId', 'line', 'status', 'message']);
  });

  test('escapes quotes, backslashes, control characters and lone surrogates in the message too', () => {
    const line = auditLine(event({ user: 'a"b\\c\n\ud800', tokenId: 'x\u0001' }));
    const parsed = JSON.parse(line) as { user: string; tokenId: string; message: string };
    expect(parsed.user).toBe('a"b\\c\n\ud800');
    expect(parsed.tokenId).toBe('x\u0001');
    expect(parsed.message).toBe('a"b\\c\n\ud800 has been authenticated via API Token (x\u0001)');
    expect(line).toContain('\\ud800');
    expect(line.split('\n')).toHaveLength(2);
  });

  test('escapes line separators, C1 controls and bidirectional controls (Trojan Source), which JSON.stringify leaves as they are', () => {
    const user = 'eve\u2028admin has been authenticated\u202e\u0085\u2066x\u200b';
    const line = auditLine(event({ user, path: '/a\u2029b' }));
    expect(JSON.stringify(user)).toContain('\u2028');
    expect(line).toContain('eve\\u2028admin has been authenticated\\u202e\\u0085\\u2066x\\u200b');
    expect(line).toContain('/a\\u2029b');
    expect(line).not.toMatch(/[\u0085\u2028\u2029\u202e\u2066\u200b]/);
    const parsed = JSON.parse(line) as { user: string; path: string; message: string };
    expect(parsed.user).toBe(user);
    expect(parsed.path).toBe('/a\u2029b');
    expect(parsed.message.startsWith(user)).toBe(true);
  });
});

test('auditLine: times within one second, across seconds and outside years 1970–9999', () => {
  const base = Date.UTC(2026, 10, 22, 14, 0, 59, 998);
  for (const ms of [base, base + 1, base + 2, base + 3, base + 1002, base - 1000, 0, 5, -1, 253_402_300_800_000]) {
    const event: AuditEvent = { type: 'token.used', at: new Date(ms), user: 'u', outcome: 'success' };
    expect(JSON.parse(auditLine(event)).at).toBe(new Date(ms).toISOString());
  }
});

describe('JsonLinesSink', () => {
  test('creates the file with mode 0o600 by default', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 10_000 });
    sink.write(event());
    await sink.flush();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await sink.close();
  });

  test('honours a configured mode', async () => {
    const file = join(dir, 'audit.jsonl');
    const old = process.umask(0);
    try {
      const sink = new JsonLinesSink(file, { mode: 0o640 });
      sink.write(event());
      await sink.close();
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  test('appends: content already in the file is kept', async () => {
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, '{"old":true}\n');
    const sink = new JsonLinesSink(file);
    sink.write(event());
    await sink.close();
    const lines = linesOf(file);
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual({ old: true });
    expect(JSON.parse(lines[1]!)).toEqual(auditRecord(event()));
  });

  test('each line is the auditRecord of the event', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file);
    const e = event({ type: 'token.denied', outcome: 'failure', reason: 'checksum', status: 401, requestId: 'x' });
    sink.write(e);
    await sink.close();
    expect(linesOf(file).map((l) => JSON.parse(l))).toEqual([auditRecord(e)]);
  });

  test('batches: nothing is written before the flush', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000 });
    for (let i = 0; i < 10; i++) sink.write(event({ requestId: `r${i}` }));
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(file) ? readFileSync(file, 'utf8') : '').toBe('');
    await sink.flush();
    expect(linesOf(file)).toHaveLength(10);
    await sink.close();
  });

  test('the timer writes the batch without an explicit flush', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 5 });
    sink.write(event());
    // Poll until the timed flush lands (no timing assertion: only that it eventually does).
    for (let i = 0; i < 200 && !(existsSync(file) && readFileSync(file, 'utf8') !== ''); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(linesOf(file)).toHaveLength(1);
    await sink.close();
  });

  test('a full buffer is written at once, before the timer', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000, maxBatch: 1 });
    sink.write(event({ requestId: 'first' }));
    for (let i = 0; i < 200 && !(existsSync(file) && readFileSync(file, 'utf8') !== ''); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(linesOf(file).map((l) => JSON.parse(l).requestId)).toEqual(['first']);
    await sink.close();
  });

  test('an event that cannot be serialised as it is still gives a JSON line and never blocks the batch', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 10_000 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad = [
      event({ at: new Date(Number.NaN) }),
      { ...event(), type: undefined, at: undefined } as unknown as AuditEvent,
      event({ line: 10n as unknown as number, status: cyclic as unknown as number }),
      event({ type: 'login.failed' as AuditEvent['type'], tokenId: undefined }),
    ];
    for (const e of bad) sink.write(e);
    sink.write(event());
    await sink.close();
    const lines = linesOf(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({ type: 'token.used', at: null, user: 'alice' });
    expect(lines[1]).toMatchObject({ type: null, at: null, user: 'alice', message: 'undefined for alice (AbCdEf123456)' });
    expect(lines[2]).toMatchObject({ line: null, status: null });
    expect(lines[3]).toMatchObject({ type: 'login.failed', message: 'login.failed for alice (unknown id)' });
    expect(lines[4]).toMatchObject({ type: 'token.used', at: AT.toISOString(), message: 'alice has been authenticated via API Token (AbCdEf123456)' });
    expect(auditRecord(bad[0]!)).toMatchObject({ at: null });
  });

  test('keeps the order across many batches', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 0, maxBatch: 7 });
    const n = 5_000;
    for (let i = 0; i < n; i++) {
      sink.write(event({ requestId: `r${i}` }));
      if (i % 97 === 0) await settle();
      if (i % 1_001 === 0) void sink.flush();
    }
    await sink.close();
    const ids = linesOf(file).map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    expect(ids).toHaveLength(n);
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
  });

  test('close() writes everything buffered', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000 });
    for (let i = 0; i < 123; i++) sink.write(event({ requestId: `r${i}` }));
    await sink.close();
    expect(linesOf(file)).toHaveLength(123);
  });

  test('close() twice is fine', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file);
    sink.write(event());
    await sink.close();
    await expect(sink.close()).resolves.toBeUndefined();
    expect(linesOf(file)).toHaveLength(1);
  });

  test('close() without any event creates no file', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file);
    await sink.close();
    expect(existsSync(file)).toBe(false);
  });

  test('writing after close throws', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file);
    await sink.close();
    expect(() => sink.write(event())).toThrow(/closed/);
  });

  test('a sink closed through createAuditLog then makes the log report a write, not throw', async () => {
    const file = join(dir, 'audit.jsonl');
    const errors: unknown[] = [];
    const log = createAuditLog([new JsonLinesSink(file)], { onError: (error) => errors.push(error) });
    log(event());
    await log.close();
    expect(() => log(event())).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(linesOf(file)).toHaveLength(1);
  });

  test('a timed flush that fails is reported through onError; flush() and close() reject', async () => {
    const file = join(dir, 'missing-directory', 'audit.jsonl');
    const reported: Array<[unknown, string]> = [];
    let notify: () => void = () => undefined;
    const reportedOnce = new Promise<void>((resolve) => (notify = resolve));
    const sink = new JsonLinesSink(file, {
      flushMs: 1,
      onError: (error, context) => {
        reported.push([error, context]);
        notify();
      },
    });
    sink.write(event());
    await reportedOnce;
    expect(reported).toHaveLength(1);
    expect((reported[0]![0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(reported[0]![1]).toContain(file);

    sink.write(event());
    await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOENT' });
    sink.write(event());
    await expect(sink.close()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(file)).toBe(false);
  });

  test('keeps the lines of a failed open and writes them once the file can be opened', async () => {
    const folder = join(dir, 'later');
    const file = join(folder, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 10_000 });
    sink.write(event({ requestId: 'one' }));
    await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOENT' });
    sink.write(event({ requestId: 'two' }));
    mkdirSync(folder);
    await sink.close();
    const ids = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    expect(ids).toEqual(['one', 'two']);
  });

  test('the time written is the time when the event arrived: a sink that changes the Date in place (setTime) changes nothing', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = createAuditLog([(e) => void e.at.setTime(0), new JsonLinesSink(file, { flushMs: 60_000 })]);
    // The JSON-lines sink comes second, so it reads the time after the first sink changed it: order it first.
    const first = createAuditLog([new JsonLinesSink(join(dir, 'first.jsonl'), { flushMs: 60_000 }), (e) => void e.at.setTime(0)]);
    first(event({ at: new Date(AT) }));
    log(event({ at: new Date(AT) }));
    await first.close();
    await log.close();
    expect((JSON.parse(linesOf(join(dir, 'first.jsonl'))[0]!) as { at: string }).at).toBe(AT.toISOString());
    // A sink before it can still change the Date it is handed; that is the sinks' order, written down here.
    expect((JSON.parse(linesOf(file)[0]!) as { at: string }).at).toBe('1970-01-01T00:00:00.000Z');
  });

  test('a close() that failed can be tried again, and then closes the file', async () => {
    const folder = join(dir, 'later');
    const sink = new JsonLinesSink(join(folder, 'audit.jsonl'), { flushMs: 60_000 });
    sink.write(event({ requestId: 'kept' }));
    await expect(sink.close()).rejects.toMatchObject({ code: 'ENOENT' });
    mkdirSync(folder);
    await expect(sink.close()).resolves.toBeUndefined();
    expect(linesOf(join(folder, 'audit.jsonl'))).toHaveLength(1);
  });

  test('a second close() waits for the first: nothing is lost when two shutdown hooks close the log', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = createAuditLog([new JsonLinesSink(file, { flushMs: 60_000 })]);
    for (let i = 0; i < 500; i++) log(event({ requestId: `r${i}` }));
    void log.close();
    await log.close();
    expect(linesOf(file)).toHaveLength(500);
  });

  test('a write that fails part-way goes on from where it stopped: no line lost, cut or repeated', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000 });
    const probe = await open(join(dir, 'probe'), 'w');
    const FileHandle = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> };
    await probe.close();
    const realWrite = FileHandle.write;
    const spy = jest
      .spyOn(FileHandle, 'write')
      // The disk fills half-way through the first batch …
      .mockImplementationOnce(function (this: unknown, buffer: unknown, offset: unknown, length: unknown) {
        return realWrite.call(this, buffer, offset, Math.floor((length as number) / 2));
      })
      .mockImplementationOnce(() => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })));
    try {
      for (let i = 0; i < 3; i++) sink.write(event({ requestId: `a${i}` }));
      await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
      // … and has room again for the next flush.
      for (let i = 0; i < 2; i++) sink.write(event({ requestId: `b${i}` }));
      await sink.close();
    } finally {
      spy.mockRestore();
    }
    const ids = linesOf(file).map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    expect(ids).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
  });

  test('lines of several failed opens keep their order', async () => {
    const folder = join(dir, 'later');
    const file = join(folder, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000 });
    // Three flushes in a row, all waiting on the same failed open.
    const flushes: Promise<void>[] = [];
    for (let batch = 0; batch < 3; batch++) {
      sink.write(event({ requestId: `r${2 * batch + 1}` }));
      sink.write(event({ requestId: `r${2 * batch + 2}` }));
      flushes.push(sink.flush());
    }
    for (const f of flushes) await expect(f).rejects.toMatchObject({ code: 'ENOENT' });
    mkdirSync(folder);
    await sink.close();
    expect(linesOf(file).map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
  });

  test('while the file cannot be written, at most maxPendingBytes wait; later batches are dropped and reported', async () => {
    const folder = join(dir, 'later');
    const file = join(folder, 'audit.jsonl');
    const reported: string[] = [];
    const sink = new JsonLinesSink(file, { flushMs: 60_000, maxPendingBytes: 600, onError: (error) => reported.push((error as Error).message) });
    sink.write(event({ requestId: 'kept' }));
    await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOENT' });
    for (let i = 0; i < 5; i++) sink.write(event({ requestId: `dropped${i}` }));
    await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(reported).toEqual([expect.stringMatching(/5 events dropped: \d+ bytes are still waiting to be written \(maxPendingBytes 600\)/)]);
    mkdirSync(folder);
    await sink.close();
    expect(linesOf(file).map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['kept']);
  });

  test('an event whose user cannot even be turned into text still gives a line, and the timed flush does not throw', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 1 });
    sink.write(event({ user: Object.create(null) as unknown as string }));
    sink.write(event({ requestId: 'after' }));
    await sink.close();
    const lines = linesOf(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ type: 'token.used' });
    expect(lines[1]).toMatchObject({ requestId: 'after' });
  });

  test('reopen() after log rotation: new lines go to a new file at the path', async () => {
    const file = join(dir, 'audit.jsonl');
    const sink = new JsonLinesSink(file, { flushMs: 60_000 });
    sink.write(event({ requestId: 'before' }));
    await sink.flush();
    renameSync(file, `${file}.1`);
    sink.write(event({ requestId: 'during' }));
    await sink.reopen();
    sink.write(event({ requestId: 'after' }));
    await sink.close();
    const idsOf = (f: string) => linesOf(f).map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    // A line written before reopen() still went to the moved file (the one open then).
    expect(idsOf(`${file}.1`)).toEqual(['before', 'during']);
    expect(idsOf(file)).toEqual(['after']);
  });

  test('rejects a missing path and bad options', () => {
    expect(() => new JsonLinesSink('')).toThrow(TypeError);
    expect(() => new JsonLinesSink(join(dir, 'a'), { flushMs: -1 })).toThrow(TypeError);
    expect(() => new JsonLinesSink(join(dir, 'a'), { maxBatch: 0 })).toThrow(TypeError);
  });
});
