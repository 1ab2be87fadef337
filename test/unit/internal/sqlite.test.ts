import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { enableWal, isMissingNativeModule, openDatabase } from '../../../src/internal/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-internal-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isMissingNativeModule', () => {
  test.each([
    [new Error('Could not locate the bindings file. Tried: …'), true],
    [Object.assign(new Error('compiled against a different Node.js version'), { code: 'ERR_DLOPEN_FAILED' }), true],
    [Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' }), true],
    [Object.assign(new Error("Cannot find module 'other'"), { code: 'MODULE_NOT_FOUND' }), false],
    [new TypeError('Cannot open database because the directory does not exist'), false],
    ['a string', false],
  ])('%s → %s', (err, expected) => {
    expect(isMissingNativeModule(err)).toBe(expected);
  });
});

describe('openDatabase', () => {
  test('opens a real file', () => {
    const db = openDatabase(join(dir, 'open.db'), {}, { name: 'x', alternatives: 'y' });
    expect(db.open).toBe(true);
    db.close();
  });

  test('a missing native module becomes sqlite_unavailable, naming who needs it and what to use instead', () => {
    const missing = new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node');
    let thrown: unknown;
    jest.isolateModules(() => {
      jest.doMock('better-sqlite3', () =>
        function Database() {
          throw missing;
        },
      );
      const fresh = require('../../../src/internal/sqlite') as typeof import('../../../src/internal/sqlite');
      try {
        fresh.openDatabase(join(dir, 'x.db'), {}, { name: 'sqliteSessionStorage', alternatives: 'memorySessionStorage or postgresSessionStorage' });
      } catch (err) {
        thrown = err;
      }
    });
    jest.dontMock('better-sqlite3');
    const error = thrown as Error & { code?: string };
    expect(error.code).toBe('sqlite_unavailable');
    expect(error.message).toMatch(/^sqliteSessionStorage needs better-sqlite3's native module/);
    expect(error.message).toMatch(/npm rebuild better-sqlite3/);
    expect(error.message).toMatch(/or use memorySessionStorage or postgresSessionStorage, which need no native module/);
    expect(error.message).not.toMatch(/build\/better_sqlite3/);
    expect(error.cause).toBe(missing);
  });
});

describe('enableWal', () => {
  const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

  test('switches a file to WAL', () => {
    const db = openDatabase(join(dir, 'wal.db'), {}, { name: 'x', alternatives: 'y' });
    enableWal(db, 1000);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  test('retries SQLITE_BUSY until the busy timeout, then gives up; other errors pass at once', () => {
    let calls = 0;
    const flaky = { pragma: () => (++calls < 3 ? (() => { throw busy(); })() : 'wal') } as unknown as Database.Database;
    enableWal(flaky, 1000);
    expect(calls).toBe(3);

    const started = Date.now();
    const locked = { pragma: () => { throw busy(); } } as unknown as Database.Database;
    expect(() => enableWal(locked, 50)).toThrow('database is locked');
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);

    calls = 0;
    const broken = { pragma: () => { calls++; throw new Error('disk I/O error'); } } as unknown as Database.Database;
    expect(() => enableWal(broken, 1000)).toThrow('disk I/O error');
    expect(calls).toBe(1);
  });
});
