// SqliteTokenStore: the embedded default TokenStore — one file, WAL, versioned migrations (better-sqlite3).
import type Database from 'better-sqlite3';
import { checkKnownKeys, checkNumber } from '../internal/options.js';
import { openDatabase } from '../internal/sqlite.js';
import { CHANGE_COLUMNS as COLUMNS, type StoredToken, type TokenChanges, type TokenStore, type UsageUpdate } from './store.js';

/** Options of {@link SqliteTokenStore}. */
export interface SqliteTokenStoreOptions {
  /** How long a write waits for another connection's lock, in ms. @default 5000 */
  busyTimeoutMs?: number | undefined;
}

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append, never edit:
 * a database created by an older version is brought forward by the entries it has not seen.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tokens (
     id               TEXT PRIMARY KEY,
     owner            TEXT,
     label            TEXT NOT NULL,
     created_at       INTEGER NOT NULL,
     expires_at       INTEGER,
     last_accessed    INTEGER,
     last_accessed_ip TEXT,
     usage_count      INTEGER NOT NULL DEFAULT 0,
     restrictions     TEXT NOT NULL DEFAULT '',
     revoked_at       INTEGER,
     salt             TEXT NOT NULL,
     hash             TEXT NOT NULL
   ) STRICT;
   CREATE INDEX tokens_owner ON tokens (owner, created_at);`,
];

interface Row {
  id: string;
  owner: string | null;
  label: string;
  created_at: number;
  expires_at: number | null;
  last_accessed: number | null;
  last_accessed_ip: string | null;
  usage_count: number;
  restrictions: string;
  revoked_at: number | null;
  salt: string;
  hash: string;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

function fromRow(r: Row): StoredToken {
  return {
    id: r.id,
    owner: r.owner,
    label: r.label,
    createdAt: new Date(r.created_at),
    expiresAt: date(r.expires_at),
    lastAccessed: date(r.last_accessed),
    lastAccessedIp: r.last_accessed_ip,
    usageCount: r.usage_count,
    restrictions: r.restrictions,
    revokedAt: date(r.revoked_at),
    salt: r.salt,
    hash: r.hash,
  };
}

/** For a synchronous pause (`Atomics.wait`) in the constructor, which cannot await. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Tokens in a SQLite file. Writes are synchronous and committed with `synchronous = FULL` before the
 * call returns, so an acknowledged token, edit or revocation survives a crash. Several processes may
 * share the file (WAL mode, busy timeout).
 *
 * @example const store = new SqliteTokenStore('./data/tokens.db');
 */
export class SqliteTokenStore implements TokenStore {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], Row>;
  readonly #insert: Database.Statement<Row>;
  readonly #usage: Database.Statement<[number, number, string | null, number, number, string]>;
  readonly #recordUsage: (updates: readonly UsageUpdate[]) => void;

  constructor(filePath: string, options: SqliteTokenStoreOptions = {}) {
    if (typeof filePath !== 'string' || filePath === '') {
      throw new TypeError('new SqliteTokenStore(filePath) needs the path of the database file (":memory:" for a throwaway one)');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('new SqliteTokenStore(filePath, options): options must be an object such as { busyTimeoutMs: 5000 }');
    checkKnownKeys('new SqliteTokenStore', options, ['busyTimeoutMs'], { timeout: 'did you mean "busyTimeoutMs" (milliseconds)?' });
    checkNumber('options.busyTimeoutMs', options.busyTimeoutMs, { min: 0, max: 2 ** 31 - 1, unit: 'milliseconds' });
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.#db = openDatabase(filePath, { timeout: busyTimeoutMs }, { name: 'SqliteTokenStore', alternatives: 'MemoryTokenStore or PostgresTokenStore' });
    this.#enableWal(busyTimeoutMs);
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();
    this.#get = this.#db.prepare<[string], Row>('SELECT * FROM tokens WHERE id = ?');
    this.#insert = this.#db.prepare<Row>(
      `INSERT INTO tokens (id, owner, label, created_at, expires_at, last_accessed, last_accessed_ip, usage_count, restrictions, revoked_at, salt, hash)
       VALUES (@id, @owner, @label, @created_at, @expires_at, @last_accessed, @last_accessed_ip, @usage_count, @restrictions, @revoked_at, @salt, @hash)`,
    );
    // Counts are added in SQL (never read-modify-write); last access only moves forward.
    this.#usage = this.#db.prepare<[number, number, string | null, number, number, string]>(
      `UPDATE tokens SET usage_count = usage_count + ?,
         last_accessed_ip = CASE WHEN last_accessed IS NULL OR last_accessed <= ? THEN ? ELSE last_accessed_ip END,
         last_accessed = CASE WHEN last_accessed IS NULL OR last_accessed <= ? THEN ? ELSE last_accessed END
       WHERE id = ?`,
    );
    this.#recordUsage = this.#db.transaction((updates: readonly UsageUpdate[]) => {
      for (const u of updates) {
        const at = u.lastAccessed.getTime();
        this.#usage.run(u.count, at, u.lastAccessedIp, at, at, u.id);
      }
    });
  }

  /**
   * Switches the file to WAL. When several processes open a new file at once, SQLite can answer
   * SQLITE_BUSY here without waiting (the busy timeout does not cover it), so it is retried, with short
   * sleeps, for up to the busy timeout.
   */
  #enableWal(busyTimeoutMs: number): void {
    const deadline = Date.now() + busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      try {
        this.#db.pragma('journal_mode = WAL');
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
        Atomics.wait(PAUSE, 0, 0, pause);
      }
    }
  }

  #migrate(): void {
    // The version is read inside the write lock (BEGIN IMMEDIATE): processes opening one file at once
    // migrate one after the other, and each sees what the one before it did.
    this.#db.transaction(() => {
      const version = this.#db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        throw new Error(`the token database has schema version ${version}, newer than this tokenfence knows (${MIGRATIONS.length}); upgrade tokenfence`);
      }
      if (version === MIGRATIONS.length) return;
      for (let v = version; v < MIGRATIONS.length; v++) this.#db.exec(MIGRATIONS[v]!);
      this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }

  /** The schema version of the open database. */
  get schemaVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  insert(t: StoredToken): void {
    try {
      this.#insertRow(t);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new Error(`a token with id ${t.id} already exists`);
      throw err;
    }
  }

  #insertRow(t: StoredToken): void {
    this.#insert.run({
      id: t.id,
      owner: t.owner,
      label: t.label,
      created_at: t.createdAt.getTime(),
      expires_at: ms(t.expiresAt),
      last_accessed: ms(t.lastAccessed),
      last_accessed_ip: t.lastAccessedIp,
      usage_count: t.usageCount,
      restrictions: t.restrictions,
      revoked_at: ms(t.revokedAt),
      salt: t.salt,
      hash: t.hash,
    });
  }

  get(id: string): StoredToken | undefined {
    const row = this.#get.get(id);
    return row && fromRow(row);
  }

  listByOwner(owner: string | null): StoredToken[] {
    const rows =
      owner === null
        ? this.#db.prepare<[], Row>('SELECT * FROM tokens WHERE owner IS NULL ORDER BY created_at, id').all()
        : this.#db.prepare<[string], Row>('SELECT * FROM tokens WHERE owner = ? ORDER BY created_at, id').all(owner);
    return rows.map(fromRow);
  }

  listAll(): StoredToken[] {
    return this.#db.prepare<[], Row>('SELECT * FROM tokens ORDER BY created_at, id').all().map(fromRow);
  }

  update(id: string, changes: TokenChanges): StoredToken | undefined {
    const keys = (Object.keys(changes) as (keyof TokenChanges)[]).filter((k) => k in COLUMNS && changes[k] !== undefined);
    if (keys.length > 0) {
      const values = keys.map((k) => {
        const v = changes[k];
        return v instanceof Date ? v.getTime() : v;
      });
      this.#db.prepare(`UPDATE tokens SET ${keys.map((k) => `${COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`).run(...values, id);
    }
    return this.get(id);
  }

  recordUsage(updates: readonly UsageUpdate[]): void {
    if (updates.length > 0) this.#recordUsage(updates);
  }

  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM tokens WHERE id = ?').run(id).changes > 0;
  }

  purge(before: Date): string[] {
    const t = before.getTime();
    return this.#db
      .prepare<[number, number], { id: string }>('DELETE FROM tokens WHERE (expires_at IS NOT NULL AND expires_at < ?) OR (revoked_at IS NOT NULL AND revoked_at < ?) RETURNING id')
      .all(t, t)
      .map((r) => r.id);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
