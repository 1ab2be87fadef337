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
