// Per-token rate limits shared by two app instances through a real PostgreSQL (RateLimiterPostgres).
import pg from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { createTokenService, MemoryTokenStore, tokenGuard } from '../../../../src/index';
import { startPostgres, testPool, type TestPostgres } from '../../../support/postgres';
import { EXPRESS_FLAVOURS, http, listen, type TestServer } from '../../../support/http';

jest.setTimeout(90_000);

let server: TestPostgres;
let pool: pg.Pool;
const open: TestServer[] = [];

beforeAll(async () => {
  server = await startPostgres();
  pool = testPool(server.url, 4);
});
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await pool?.end();
  await server?.stop();
});

function postgresLimiter(table: string): Promise<RateLimiterPostgres> {
  return new Promise((resolve, reject) => {
    const limiter: RateLimiterPostgres = new RateLimiterPostgres(
      { storeClient: pool, tableName: table, points: 5, duration: 60, clearExpiredByTimeout: false },
      (err?: Error) => (err ? reject(err) : resolve(limiter)),
    );
  });
}

test('two instances share one budget per token, and a store failure fails closed', async () => {
  const tokens = createTokenService({ store: new MemoryTokenStore() });
  const { token } = await tokens.issue({ owner: 'alice', label: 'ci' });
  const { token: other } = await tokens.issue({ owner: 'bob', label: 'ci' });
  const table = `tf_rl_${process.pid}`;
  // Express 4 and 5 side by side, as two instances of one app behind a load balancer.
  const ports: number[] = [];
  const reported: string[] = [];
  for (const flavour of EXPRESS_FLAVOURS) {
    const app = flavour.create();
    app.use(tokenGuard({ tokens, rateLimit: { limiter: await postgresLimiter(table) }, onError: (e) => reported.push((e as Error).message) }));
    app.use((_req, res) => res.json({ ok: true }));
    const s = await listen(app);
    open.push(s);
    ports.push(s.port);
  }
  const call = (i: number, t = token) => http(ports[i % 2]!).get('/rest/api/2/myself').set('Authorization', `Bearer ${t}`);
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await call(i)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  const limited = await call(7);
  expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  expect(limited.headers['ratelimit-limit']).toBe('5');
  // The count lives in PostgreSQL, keyed by the public token id (never the secret).
  const { rows } = await pool.query(`SELECT key, points FROM "${table}"`);
  expect(rows).toHaveLength(1);
  expect(rows[0].key).toContain(token.slice(4, 16));
  expect(JSON.stringify(rows)).not.toContain(token.slice(16, 40));
  expect((await call(0, other)).status).toBe(200);

  // The limiter's store goes away: the guard answers 503 instead of letting calls through unmetered.
  await pool.query(`DROP TABLE "${table}"`);
  const down = await call(0, other);
  expect(down.status).toBe(503);
  expect(down.body).toMatchObject({ error: { code: 'unavailable' } });
  expect(down.text).not.toContain(table);
  expect(reported).toEqual([expect.stringContaining('does not exist')]);
  await tokens.close();
});
