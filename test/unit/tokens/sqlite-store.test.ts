import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createTokenService, SqliteTokenStore } from '../../../src/index.js';
import { token, tokenStoreContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(dir, `tokens-${files++}.db`);

tokenStoreContract('SqliteTokenStore', () => new SqliteTokenStore(freshFile()));

describe('SqliteTokenStore', () => {
  test('writes a real file in WAL mode at the current schema version, and keeps data across reopen', () => {
    const file = freshFile();
    const store = new SqliteTokenStore(file);
    expect(store.schemaVersion).toBe(1);
    store.insert(token('A1', { expiresAt: new Date('2026-06-01T00:00:00Z') }));
    store.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const reopened = new SqliteTokenStore(file);
    expect(reopened.get('A1')).toEqual(token('A1', { expiresAt: new Date('2026-06-01T00:00:00Z') }));
    reopened.close();
  });

  test('refuses a database from a newer tokenfence', () => {
    const file = freshFile();
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new SqliteTokenStore(file)).toThrow(/schema version 99, newer than this tokenfence knows/);
  });

  test('a bad path is a programmer error', () => {
    expect(() => new SqliteTokenStore('')).toThrow(TypeError);
  });

  test('1,000 concurrent verifications count exactly 1,000 after close()', async () => {
    const file = freshFile();
    const tokens = createTokenService({ store: new SqliteTokenStore(file), usageFlushMs: 2 });
    const { token: secret, record } = await tokens.issue({ owner: 'a', label: 'x' });
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.verify(secret, { ip: '127.0.0.1' })));
    expect(results.every((r) => r.ok)).toBe(true);
    await tokens.close();
    const reopened = new SqliteTokenStore(file);
    expect(reopened.get(record.id)).toMatchObject({ usageCount: 1000, lastAccessedIp: '127.0.0.1' });
    reopened.close();
  });

  test('no token secret appears in the database files', async () => {
    const folder = mkdtempSync(join(dir, 'secrets-'));
    const tokens = createTokenService({ store: new SqliteTokenStore(join(folder, 'tokens.db')) });
    const secrets: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { token: t } = await tokens.issue({ owner: `user${i}`, label: `t${i}` });
      secrets.push(t.slice(16, 40));
      await tokens.verify(t);
    }
    // Read the files while the store is open (WAL not yet checkpointed) and after close.
    const scan = () => {
      const bytes = readdirSync(folder).map((f) => readFileSync(join(folder, f)).toString('latin1')).join('\n');
      expect(bytes.length).toBeGreaterThan(0);
      for (const s of secrets) expect(bytes).not.toContain(s);
      return bytes;
    };
    const open = scan();
    expect(open).toContain('user19');
    await tokens.close();
    scan();
  });
});

describe("SqliteTokenStore without better-sqlite3's native module (installed with --ignore-scripts)", () => {
  /**
   * Builds a store from the module loaded afresh against a better-sqlite3 whose constructor fails as a missing
   * addon does (the store loads better-sqlite3 only when it is built, so the mock must stand until then).
   */
  function buildWithBrokenAddon(failure: Error): unknown {
    let thrown: unknown;
    jest.isolateModules(() => {
      jest.doMock('better-sqlite3', () =>
        function Database() {
          throw failure;
        },
      );
      const { SqliteTokenStore: Store } = require('../../../src/tokens/sqlite-store') as typeof import('../../../src/tokens/sqlite-store');
      try {
        new Store(freshFile()).close();
      } catch (err) {
        thrown = err;
      }
    });
    jest.dontMock('better-sqlite3');
    return thrown;
  }

  test('the constructor says what to install or rebuild, and keeps the cause', () => {
    const missing = new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node');
    const thrown = buildWithBrokenAddon(missing);
    expect(thrown).toBeInstanceOf(Error);
    const error = thrown as Error & { code?: string };
    expect(error.code).toBe('sqlite_unavailable');
    expect(error.message).toMatch(/npm rebuild better-sqlite3/);
    expect(error.message).toMatch(/MemoryTokenStore or PostgresTokenStore/);
    expect(error.message).toMatch(/Could not locate the bindings file/);
    expect(error.message).not.toMatch(/build\/better_sqlite3/);
    expect(error.cause).toBe(missing);
  });

  test('a module built for another Node (dlopen failure) gets the same advice', () => {
    const thrown = buildWithBrokenAddon(Object.assign(new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115.'), { code: 'ERR_DLOPEN_FAILED' }));
    expect((thrown as Error).message).toMatch(/npm rebuild better-sqlite3/);
  });

  test("SQLite's own errors pass through unchanged", () => {
    expect(() => new SqliteTokenStore(join(dir, 'no-such-folder', 'tokens.db'))).toThrow(/directory does not exist/);
    const own = new TypeError('Cannot open database because the directory does not exist');
    expect(buildWithBrokenAddon(own)).toBe(own);
  });
});
