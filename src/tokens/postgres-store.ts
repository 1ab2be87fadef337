// PostgresTokenStore: tokens in PostgreSQL (pg Pool), shared by several app instances; versioned migrations.
import { checkKnownKeys } from '../internal/options.js';
import { CHANGE_COLUMNS as COLUMNS, type StoredToken, type TokenChanges, type TokenStore, type UsageUpdate } from './store.js';
import { migratePostgres } from '../internal/postgres.js';

/** Options of {@link PostgresTokenStore}. */
export interface PostgresTokenStoreOptions {
  /** The table name (letters, digits, `_`); its migrations are recorded in `<table>_schema`. @default 'tokenfence_tokens' */
  table?: string | undefined;
  /** End the pool when the store closes. Leave false when the host shares the pool. @default false */
  endPoolOnClose?: boolean | undefined;
}

/** The part of a `pg` Pool the store uses (declared here so that users without `@types/pg` compile). */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  connect(): Promise<{ query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>; release(): void }>;
  end(): Promise<void>;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,50}$/;

/** Migrations, in order; append, never edit. `%t` is the table name. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE %t (
     id               text PRIMARY KEY,
     owner            text,
     label            text NOT NULL,
     created_at       timestamptz NOT NULL,
     expires_at       timestamptz,
     last_accessed    timestamptz,
     last_accessed_ip text,
     usage_count      bigint NOT NULL DEFAULT 0,
     restrictions     text NOT NULL DEFAULT '',
     revoked_at       timestamptz,
     salt             text NOT NULL,
     hash             text NOT NULL
   );
   CREATE INDEX %t_owner ON %t (owner, created_at);`,
];

interface Row {
  id: string;
  owner: string | null;
  label: string;
  created_at: Date;
  expires_at: Date | null;
  last_accessed: Date | null;
  last_accessed_ip: string | null;
  usage_count: string | number;
  restrictions: string;
  revoked_at: Date | null;
  salt: string;
  hash: string;
}

function fromRow(r: Row): StoredToken {
  return {
    id: r.id,
    owner: r.owner,
    label: r.label,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastAccessed: r.last_accessed,
    lastAccessedIp: r.last_accessed_ip,
    usageCount: Number(r.usage_count),
    restrictions: r.restrictions,
    revokedAt: r.revoked_at,
    salt: r.salt,
    hash: r.hash,
  };
}


/**
 * Tokens in PostgreSQL. Every read goes to the database, so a revocation or edit made by one app
 * instance is refused by every other at once; usage counts are added in SQL, atomically.
 *
 * @example const store = new PostgresTokenStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 */
export class PostgresTokenStore implements TokenStore {
  readonly #pool: PgPool;
  readonly #t: string;
  readonly #endPool: boolean;

  constructor(pool: PgPool, options: PostgresTokenStoreOptions = {}) {
    if (typeof pool !== 'object' || pool === null || typeof (pool as { query?: unknown }).query !== 'function') {
      throw new TypeError('new PostgresTokenStore(pool) needs a pg Pool, such as new pg.Pool({ connectionString })');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError("new PostgresTokenStore(pool, options): options must be an object such as { table: 'tokenfence_tokens' }");
    checkKnownKeys('new PostgresTokenStore', options, ['table', 'endPoolOnClose'], { tableName: 'did you mean "table"?' });
    if (options.endPoolOnClose !== undefined && typeof options.endPoolOnClose !== 'boolean') throw new TypeError('options.endPoolOnClose must be a boolean');
    const table = options.table ?? 'tokenfence_tokens';
    if (!TABLE_NAME.test(table)) throw new TypeError(`options.table must be a lower-case SQL identifier (letters, digits, _), got ${JSON.stringify(table)}`);
    this.#pool = pool;
    this.#t = table;
    this.#endPool = options.endPoolOnClose === true;
  }

  async #rows<R>(text: string, values?: unknown[]): Promise<R[]> {
    return (await this.#pool.query(text, values)).rows as R[];
  }

  /** Creates or upgrades the table; safe when several instances start at once (advisory lock). */
  async init(): Promise<void> {
    await migratePostgres(this.#pool, this.#t, MIGRATIONS, 'the token table has');
  }


  async insert(t: StoredToken): Promise<void> {
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#t} (id, owner, label, created_at, expires_at, last_accessed, last_accessed_ip, usage_count, restrictions, revoked_at, salt, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [t.id, t.owner, t.label, t.createdAt, t.expiresAt, t.lastAccessed, t.lastAccessedIp, t.usageCount, t.restrictions, t.revokedAt, t.salt, t.hash],
      );
    } catch (err) {
      if ((err as { code?: unknown }).code === '23505') throw new Error(`a token with id ${t.id} already exists`);
      throw err;
    }
  }

  async get(id: string): Promise<StoredToken | undefined> {
    const [row] = await this.#rows<Row>(`SELECT * FROM ${this.#t} WHERE id = $1`, [id]);
    return row && fromRow(row);
  }

  async listByOwner(owner: string | null): Promise<StoredToken[]> {
    const rows =
      owner === null
        ? await this.#rows<Row>(`SELECT * FROM ${this.#t} WHERE owner IS NULL ORDER BY created_at, id`)
        : await this.#rows<Row>(`SELECT * FROM ${this.#t} WHERE owner = $1 ORDER BY created_at, id`, [owner]);
    return rows.map(fromRow);
  }

  async listAll(): Promise<StoredToken[]> {
    return (await this.#rows<Row>(`SELECT * FROM ${this.#t} ORDER BY created_at, id`)).map(fromRow);
  }

  async update(id: string, changes: TokenChanges): Promise<StoredToken | undefined> {
    const keys = (Object.keys(changes) as (keyof TokenChanges)[]).filter((k) => k in COLUMNS && changes[k] !== undefined);
    if (keys.length === 0) return this.get(id);
    const [row] = await this.#rows<Row>(
      `UPDATE ${this.#t} SET ${keys.map((k, i) => `${COLUMNS[k]} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING *`,
      [id, ...keys.map((k) => changes[k])],
    );
    return row && fromRow(row);
  }

  async recordUsage(updates: readonly UsageUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    // One statement: counts are added by the database, so concurrent instances never lose a use.
    await this.#pool.query(
      `UPDATE ${this.#t} AS t SET usage_count = t.usage_count + u.count,
         last_accessed_ip = CASE WHEN t.last_accessed IS NULL OR t.last_accessed <= u.at THEN u.ip ELSE t.last_accessed_ip END,
         last_accessed = CASE WHEN t.last_accessed IS NULL OR t.last_accessed <= u.at THEN u.at ELSE t.last_accessed END
       FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[]) AS u(id, count, at, ip)
       WHERE t.id = u.id`,
      [updates.map((u) => u.id), updates.map((u) => u.count), updates.map((u) => u.lastAccessed), updates.map((u) => u.lastAccessedIp)],
    );
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query(`DELETE FROM ${this.#t} WHERE id = $1`, [id]);
    return (rowCount ?? 0) > 0;
  }

  async purge(before: Date): Promise<string[]> {
    const rows = await this.#rows<{ id: string }>(
      `DELETE FROM ${this.#t} WHERE (expires_at IS NOT NULL AND expires_at < $1) OR (revoked_at IS NOT NULL AND revoked_at < $1) RETURNING id`,
      [before],
    );
    return rows.map((r) => r.id);
  }

  async close(): Promise<void> {
    if (this.#endPool) await this.#pool.end();
  }
}
