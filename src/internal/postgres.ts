// Versioned migrations of tokenfence's PostgreSQL tables, shared by the token store and the session storage.

/** What the migration needs of a pg Pool. */
interface MigrationPool {
  connect(): Promise<{ query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>; release(): void }>;
}

/**
 * Creates or upgrades the tables named after `table`: runs the `migrations` (`%t` stands for the table
 * name) that `<table>_schema` does not record yet, in one transaction under an advisory lock, so several
 * instances starting at once migrate once. A schema newer than `migrations` is an error that starts with
 * `what` (`'the token table has'`).
 */
export async function migratePostgres(pool: MigrationPool, table: string, migrations: readonly string[], what: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tokenfence:${table}`]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table}_schema (version integer NOT NULL)`);
    const rows = (await client.query(`SELECT version FROM ${table}_schema`)).rows as { version: number }[];
    const version = rows[0]?.version ?? 0;
    if (version > migrations.length) {
      throw new Error(`${what} schema version ${version}, newer than this tokenfence knows (${migrations.length}); upgrade tokenfence`);
    }
    for (let v = version; v < migrations.length; v++) await client.query(migrations[v]!.replaceAll('%t', table));
    if (rows.length === 0) await client.query(`INSERT INTO ${table}_schema (version) VALUES ($1)`, [migrations.length]);
    else if (version < migrations.length) await client.query(`UPDATE ${table}_schema SET version = $1`, [migrations.length]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
