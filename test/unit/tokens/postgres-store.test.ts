import pg from 'pg';
import { createTokenService, PostgresTokenStore } from '../../../src/index.js';
import { startPostgres, testPool, type TestPostgres } from '../../support/postgres.js';
import { token, tokenStoreContract } from './store-contract.js';

jest.setTimeout(60_000);

let server: TestPostgres;
let pool: pg.Pool;
let tables = 0;
const freshTable = () => `tf_test_${process.pid}_${tables++}`;

beforeAll(async () => {
  server = await startPostgres();
  pool = testPool(server.url, 8);
});
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

tokenStoreContract('PostgresTokenStore', () => new PostgresTokenStore(pool, { table: freshTable() }));

describe('PostgresTokenStore', () => {
  test('migrations are versioned and idempotent, also when instances start at once', async () => {
    const table = freshTable();
    await Promise.all([new PostgresTokenStore(pool, { table }).init(), new PostgresTokenStore(pool, { table }).init()]);
    const { rows } = await pool.query(`SELECT version FROM ${table}_schema`);
    expect(rows).toEqual([{ version: 1 }]);
    const store = new PostgresTokenStore(pool, { table });
    await store.insert(token('A1'));
    await store.init();
    expect(await store.get('A1')).toEqual(token('A1'));
    await pool.query(`UPDATE ${table}_schema SET version = 99`);
    await expect(new PostgresTokenStore(pool, { table }).init()).rejects.toThrow(/schema version 99/);
  });

  test('misuse is a TypeError', () => {
    expect(() => new PostgresTokenStore({} as never)).toThrow(/pg Pool/);
    expect(() => new PostgresTokenStore(pool, { table: 'bad; drop table x' })).toThrow(/options.table/);
  });

  test('1,000 concurrent verifications count exactly 1,000 after close()', async () => {
    const store = new PostgresTokenStore(pool, { table: freshTable() });
    const tokens = createTokenService({ store, usageFlushMs: 2 });
    const { token: secret, record } = await tokens.issue({ owner: 'a', label: 'x' });
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.verify(secret)));
    expect(results.every((r) => r.ok)).toBe(true);
    await tokens.close();
    expect(await store.get(record.id)).toMatchObject({ usageCount: 1000 });
  });

  test('two services on one database: a revocation on A is refused by B within 1 s; usage adds up', async () => {
    const table = freshTable();
    const poolB = new pg.Pool({ connectionString: server.url, max: 4 });
    poolB.on('error', () => undefined);
    const a = createTokenService({ store: new PostgresTokenStore(pool, { table }), usageFlushMs: 2 });
    const b = createTokenService({ store: new PostgresTokenStore(poolB, { table, endPoolOnClose: true }), usageFlushMs: 2 });
    const { token: secret, record } = await a.issue({ owner: 'a', label: 'shared' });
    await Promise.all([...Array.from({ length: 300 }, () => a.verify(secret)), ...Array.from({ length: 300 }, () => b.verify(secret))]);
    await expect(b.verify(secret)).resolves.toMatchObject({ ok: true });
    await a.revoke(record.id);
    const started = Date.now();
    // B may reuse its cached row for up to recordCacheMs (500 ms): those calls still succeed and count.
    let result = await b.verify(secret);
    let usedAfterRevoke = 0;
    while (result.ok && Date.now() - started < 1000) {
      usedAfterRevoke++;
      result = await b.verify(secret);
    }
    expect(result).toEqual({ ok: false, reason: 'revoked' });
    expect(Date.now() - started).toBeLessThan(1000);
    await a.close();
    await b.close();
    expect(await new PostgresTokenStore(pool, { table }).get(record.id)).toMatchObject({ usageCount: 601 + usedAfterRevoke });
  });

  test('no token secret appears in a dump of the table', async () => {
    const table = freshTable();
    const tokens = createTokenService({ store: new PostgresTokenStore(pool, { table }) });
    const secrets: string[] = [];
    for (let i = 0; i < 10; i++) secrets.push((await tokens.issue({ owner: `u${i}`, label: `t${i}` })).token.slice(16, 40));
    await tokens.close();
    const { rows } = await pool.query(`SELECT * FROM ${table}`);
    const dump = JSON.stringify(rows);
    expect(dump).toContain('u9');
    for (const s of secrets) expect(dump).not.toContain(s);
  });
});
