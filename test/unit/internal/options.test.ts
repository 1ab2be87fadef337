// Options that catch mistakes (issue 13): unknown keys and wrong types throw a TypeError naming the option
// and the likely fix, for the token service, its policy and the guard's rateLimit.
import { createAuditLog, createTokenService, JsonLinesSink, MemoryTokenStore, PostgresTokenStore, SqliteTokenStore } from '../../../src/index.js';
import { TokenRateLimiter } from '../../../src/http/guard/rate-limit.js';
import { checkKnownKeys } from '../../../src/internal/options.js';

const store = () => new MemoryTokenStore();

describe('checkKnownKeys', () => {
  test('suggests the nearest known name by edit distance, or none when nothing is near', () => {
    expect(() => checkKnownKeys('f', { polcy: 1 }, ['policy', 'store'])).toThrow(/^f: unknown option "polcy"; did you mean "policy"\? \(known options: policy, store\)$/);
    expect(() => checkKnownKeys('f', { zzzzzz: 1 }, ['policy', 'store'])).toThrow(/^f: unknown option "zzzzzz" \(known options: policy, store\)$/);
    expect(() => checkKnownKeys('f', { policy: 1 }, ['policy'])).not.toThrow();
  });
});

describe('createTokenService refuses mistakes at start-up', () => {
  test.each([
    [{ store: store(), polcy: {} }, /createTokenService: unknown option "polcy"; did you mean "policy"\?/],
    [{ store: store(), policy: { maxLifetime: 30 } }, /options\.policy: unknown option "maxLifetime"; did you mean "maxLifetimeDays" \(a number of days\)\?/],
    [{ store: store(), policy: { secureMode: 'yes' } }, /options\.policy\.secureMode must be a boolean/],
    [{ store: store(), policy: 90 }, /options\.policy must be an object such as \{ maxLifetimeDays: 90 \}/],
    [{ store: store(), usageFlushMs: '1s' }, /options\.usageFlushMs must be a number of milliseconds from 1/],
    [{ store: store(), cacheSize: 1.5 }, /options\.cacheSize must be an integer of restriction texts/],
    [{ store: store(), clock: Date.now() }, /options\.clock must be a function/],
    [{ store: store(), recordcacheMs: 100 }, /unknown option "recordcacheMs"; did you mean "recordCacheMs"\?/],
  ])('%j', (options, message) => {
    expect(() => createTokenService(options as never)).toThrow(TypeError);
    expect(() => createTokenService(options as never)).toThrow(message);
  });

  test('valid options still work', async () => {
    const service = createTokenService({ store: store(), policy: { maxLifetimeDays: 30, secureMode: true }, usageFlushMs: 500, cacheSize: 10 });
    const { token } = await service.issue({ owner: 'alice', label: 'ci', expiresAt: new Date(Date.now() + 86_400_000) });
    expect(await service.verify(token)).toMatchObject({ ok: true });
    await service.close();
  });
});

describe("the guard's rateLimit refuses express-rate-limit's names, pointing at the equivalents", () => {
  test.each([
    [{ max: 2 }, /unknown option "max"; express-rate-limit's "max" is "points" here \(calls per window\)/],
    [{ limit: 2 }, /express-rate-limit's "limit" is "points" here/],
    [{ windowMs: 60_000, points: 5 }, /express-rate-limit's "windowMs" is "duration" here, in seconds \(windowMs \/ 1000\)/],
    [{ pionts: 5 }, /unknown option "pionts"; did you mean "points"\?/],
  ])('%j', (options, message) => {
    expect(() => new TokenRateLimiter(options as never)).toThrow(message);
  });

  test('a limiter of your own and points together are refused (the limiter has its own)', () => {
    const limiter = { consume: () => Promise.resolve() } as never;
    expect(() => new TokenRateLimiter({ limiter, points: 5 })).toThrow(/either a limiter of your own or points and duration/);
  });
});

describe('stores, sinks and the audit log refuse mistakes at start-up', () => {
  test.each([
    [() => new SqliteTokenStore(':memory:', { timeout: 100 } as never), /new SqliteTokenStore: unknown option "timeout"; did you mean "busyTimeoutMs" \(milliseconds\)\?/],
    [() => new SqliteTokenStore(':memory:', { busyTimeoutMs: '5s' } as never), /options\.busyTimeoutMs must be a number of milliseconds/],
    [() => new PostgresTokenStore({ query: () => Promise.resolve({ rows: [], rowCount: 0 }) } as never, { tableName: 'x' } as never), /new PostgresTokenStore: unknown option "tableName"; did you mean "table"\?/],
    [() => new PostgresTokenStore({ query: () => Promise.resolve({ rows: [], rowCount: 0 }) } as never, { endPoolOnClose: 'yes' } as never), /options\.endPoolOnClose must be a boolean/],
    [() => new JsonLinesSink('/tmp/x.log', { flushInterval: 100 } as never), /new JsonLinesSink: unknown option "flushInterval"; did you mean "flushMs" \(milliseconds\)\?/],
    [() => new JsonLinesSink('/tmp/x.log', { mode: '600' } as never), /options\.mode must be an integer of file mode bits/],
    [() => new JsonLinesSink('/tmp/x.log', { maxBatch: 0 }), /options\.maxBatch must be an integer of events from 1/],
    [() => createAuditLog([], { onEror: () => undefined } as never), /createAuditLog: unknown option "onEror"; did you mean "onError"\?/],
  ])('%#: %s', (build, message) => {
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
  });
});
