// Opening a better-sqlite3 database for the SQLite members of the store families (tokens, sessions): lazy
// loading with a clear error when the native module is missing, and the switch to WAL.
import type Database from 'better-sqlite3';

/** Who opens the database, as the error for a missing native module should name it. */
export interface SqliteUser {
  /** The class or factory that needs SQLite (`SqliteTokenStore`). */
  readonly name: string;
  /** What to use instead, as a phrase (`MemoryTokenStore or PostgresTokenStore`). */
  readonly alternatives: string;
}

/**
 * better-sqlite3, loaded when the first SQLite store is built rather than with the package: its native
 * module is only needed here, and a package installed with `--ignore-scripts` (or bundled) has none. A
 * failure to load it becomes an error (code `sqlite_unavailable`) that says what to do; errors of SQLite
 * itself pass through.
 */
export function openDatabase(filePath: string, options: Database.Options, usedBy: SqliteUser): Database.Database {
  let Sqlite: typeof Database;
  try {
    Sqlite = require('better-sqlite3') as typeof Database;
    return new Sqlite(filePath, options);
  } catch (err) {
    if (!isMissingNativeModule(err)) throw err;
    const reason = err instanceof Error ? err.message.split('\n', 1)[0] : String(err);
    throw Object.assign(
      new Error(
        `${usedBy.name} needs better-sqlite3's native module, which did not load (${reason}). It is built when the package is installed: ` +
          'run `npm rebuild better-sqlite3` (it needs a C++ toolchain and python3 if no prebuilt binary fits), or install without --ignore-scripts; ' +
          `or use ${usedBy.alternatives}, which need no native module.`,
        { cause: err },
      ),
      { code: 'sqlite_unavailable' },
    );
  }
}

/** Whether `err` says better-sqlite3's native module (or better-sqlite3 itself) could not be loaded. */
export function isMissingNativeModule(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_DLOPEN_FAILED') return true;
  if (code === 'MODULE_NOT_FOUND' && err.message.includes('better-sqlite3')) return true;
  return /bindings file|better_sqlite3\.node|NODE_MODULE_VERSION/.test(err.message);
}

/** For a synchronous pause (`Atomics.wait`) in a constructor or factory, which cannot await. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches the file to WAL. When several processes open a new file at once, SQLite can answer SQLITE_BUSY
 * here without waiting (the busy timeout does not cover it), so it is retried, with short sleeps, for up to
 * the busy timeout.
 */
export function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(PAUSE, 0, 0, pause);
    }
  }
}
