// `tokenfence token create|list|revoke`: manage API tokens in the SQLite or PostgreSQL store from a shell (SPEC §10).
import { existsSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  createTokenService,
  lintRestrictions,
  PostgresTokenStore,
  RestrictionSyntaxError,
  SqliteTokenStore,
  TokenError,
  type PgPool,
  type TokenPolicy,
  type TokenRecord,
  type TokenService,
  type TokenStore,
} from '../index.js';

/** Exit code of a request the token service refused: a policy limit, restrictions that do not parse, an unknown id. */
const EXIT_REFUSED = 1;
const DAY_MS = 86_400_000;

/** What the token commands need from the program that hosts them. */
export interface TokenCommandContext {
  /** Sets the process's exit code (the program's runner returns it). */
  setExit(code: number): void;
  /** Reads a text file (`-` for stdin); a file that cannot be read is a one-line usage error. */
  readText(path: string): string;
  /** A file error (an errno code) as the one-line usage error it is. */
  cannotRead(path: string, err: unknown): Error;
}

/** The options every token command takes: where the tokens live and how they are made. */
interface StoreOptions {
  sqlite?: string;
  pg?: string;
  pgTable?: string;
  prefix?: string;
  json?: boolean;
}

interface CreateOptions extends StoreOptions {
  owner?: string;
  anyUser?: boolean;
  label: string;
  expiresInDays?: number;
  expiresAt?: Date;
  restrictions?: string;
  restrictionsFile?: string;
  maxLifetimeDays?: number;
  defaultLifetimeDays?: number;
  requireExpiry?: boolean;
  maxTokensPerUser?: number;
}

interface ListOptions extends StoreOptions {
  owner?: string;
  anyUser?: boolean;
  all?: boolean;
}

interface RevokeOptions extends StoreOptions {
  owner?: string;
  anyUser?: boolean;
  all?: boolean;
}

const ENVIRONMENT_HELP = `
Environment:
  TOKENFENCE_PEPPER  the server's pepper (createTokenService's \`pepper\`), when
                     it has one: a token created without it (or with another)
                     never verifies on that server. It is read from the
                     environment only, never from a flag: command lines show
                     in \`ps\`.
  PGPASSWORD         the PostgreSQL password, to keep it out of the --pg URL
                     (and out of \`ps\`); ~/.pgpass works too.

Give the store, --pg-table and --prefix the server uses.
Exit codes: 0 done; 1 refused (a policy limit, restrictions that do not parse,
an unknown token id); 2 the command could not run (bad options, a store that
cannot be opened).`;

// ---- argument parsers (a bad value is a usage error, exit 2) ----

function wholeNumber(what: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw new InvalidArgumentError(`${what} must be a whole number from 1 to ${max}`);
    return n;
  };
}

/** A date, or a date-time with a zone: a date-time without one would be read in whatever zone the shell has. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
function parseInstant(value: string): Date {
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(value)) throw new InvalidArgumentError('give the time zone: add Z (UTC) or an offset such as +02:00');
  const date = new Date(value);
  if (!ISO_DATE.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('not an ISO 8601 date: write 2030-01-31 (midnight UTC) or 2030-01-31T18:00Z or 2030-01-31T18:00+02:00');
  }
  return date;
}

// ---- output ----

/** A record as scripts see it: exactly the public fields, so nothing from the store (a salt, a hash) can slip in. */
function recordJson(r: TokenRecord): Record<string, unknown> {
  return {
    id: r.id,
    owner: r.owner,
    label: r.label,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    lastAccessed: r.lastAccessed,
    lastAccessedIp: r.lastAccessedIp,
    usageCount: r.usageCount,
    restrictions: r.restrictions,
    revokedAt: r.revokedAt,
  };
}

const printJson = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** A minute-precision UTC time, short enough for a table. */
const when = (d: Date | null, none: string): string => (d === null ? none : `${d.toISOString().slice(0, 16)}Z`);

/**
 * Text from the store made safe for a terminal: labels and owners come from users (the management API),
 * and a control character or a bidi override in one could rewrite what an admin sees.
 */
function printable(text: string, max = 40): string {
  const clean = text.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

const ownerName = (owner: string | null): string => (owner === null ? '(any user)' : printable(owner, 24));

function table(records: readonly TokenRecord[], now: Date): string {
  const head = ['ID', 'OWNER', 'LABEL', 'CREATED', 'LAST USED', 'EXPIRES', 'USES', 'REVOKED'];
  const rows = records.map((r) => [
    r.id,
    ownerName(r.owner),
    printable(r.label),
    when(r.createdAt, ''),
    when(r.lastAccessed, 'never'),
    r.expiresAt !== null && r.expiresAt <= now ? `${when(r.expiresAt, '')} (expired)` : when(r.expiresAt, 'never'),
    String(r.usageCount),
    when(r.revokedAt, '-'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const uses = head.indexOf('USES');
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === uses ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

// ---- the store ----

/** The part of the `pg` module the CLI uses. */
interface PgModule {
  Pool: new (config: { connectionString: string; max?: number; connectionTimeoutMillis?: number }) => PgPool & {
    on(event: 'error', listener: (err: Error) => void): unknown;
  };
}

/** `pg`, loaded only for --pg: it is an optional peer dependency. */
function loadPg(): PgModule {
  try {
    return require('pg') as PgModule;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && /'pg'/.test(e.message)) throw new Error('--pg needs the pg package, which is not installed: run npm install pg');
    throw err;
  }
}

/** Whether the --pg value is a PostgreSQL URL. Commander's own check would repeat the value, which may hold a password. */
function isPgUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'postgres:' || protocol === 'postgresql:';
  } catch {
    return false;
  }
}

/** The pepper from TOKENFENCE_PEPPER; empty means none. Never echoed. */
function pepperFromEnvironment(): string | undefined {
  const pepper = process.env.TOKENFENCE_PEPPER;
  if (pepper === undefined || pepper === '') return undefined;
  if (Buffer.byteLength(pepper, 'utf8') < 16) throw new Error('TOKENFENCE_PEPPER must be at least 16 bytes (the value is not repeated here)');
  return pepper;
}

interface OpenStore {
  store: TokenStore;
  /** Names the store in error messages, without a password. */
  where: string;
}

/**
 * Opens the store the options name. `mustExist`: a SQLite file that does not exist is an error rather
 * than a new, empty database (a mistyped path would otherwise list nothing and revoke nothing).
 */
function openStore(cmd: Command, options: StoreOptions, context: TokenCommandContext, mustExist: boolean): OpenStore {
  if ((options.sqlite === undefined) === (options.pg === undefined)) cmd.error('error: give the token store with exactly one of --sqlite <file> or --pg <url>');
  if (options.pgTable !== undefined && options.pg === undefined) cmd.error('error: --pg-table goes with --pg <url>');
  if (options.sqlite !== undefined) {
    const file = options.sqlite;
    const where = `the token database ${file}`;
    if (mustExist) {
      try {
        if (!statSync(file).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      } catch (err) {
        throw context.cannotRead(file, err);
      }
    }
    const existed = file === ':memory:' || existsSync(file);
    let store: SqliteTokenStore;
    try {
      store = new SqliteTokenStore(file);
    } catch (err) {
      throw new Error(`cannot open ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!existed) process.stderr.write(`tokenfence: created a new token database at ${file}\n`);
    return { store, where };
  }
  if (!isPgUrl(options.pg!)) cmd.error('error: --pg must be a URL such as postgres://user@host:5432/database (the value given is not repeated here: it may hold a password)');
  const { Pool } = loadPg();
  const pool = new Pool({ connectionString: options.pg!, max: 2, connectionTimeoutMillis: 10_000 });
  // An idle connection the server drops: the next query fails and says so; the process must not crash here.
  pool.on('error', () => undefined);
  const table = options.pgTable ?? 'tokenfence_tokens';
  let store: PostgresTokenStore;
  try {
    store = new PostgresTokenStore(pool, { table, endPoolOnClose: true });
  } catch (err) {
    void pool.end();
    throw err;
  }
  return { store, where: `the PostgreSQL table ${table}` };
}

/**
 * Runs `task` with a token service over the store the options name, then closes the service (writing
 * pending usage, stopping its timers) and the store (the pg pool with it), so the process exits. A
 * `TokenError` is the service refusing: one line, exit 1. Any other failure comes from the store: exit 2.
 */
async function withTokens(
  cmd: Command,
  options: StoreOptions,
  context: TokenCommandContext,
  setup: { mustExist: boolean; policy?: TokenPolicy },
  task: (tokens: TokenService) => Promise<number>,
): Promise<number> {
  const pepper = pepperFromEnvironment();
  const { store, where } = openStore(cmd, options, context, setup.mustExist);
  let tokens: TokenService;
  try {
    tokens = createTokenService({ store, pepper, prefix: options.prefix, policy: setup.policy });
  } catch (err) {
    await store.close?.();
    throw err;
  }
  let failure: unknown;
  try {
    return await task(tokens);
  } catch (err) {
    // The service refusing (restrictions are linted before, so a syntax error here is the service's parse disagreeing).
    if (err instanceof TokenError || err instanceof RestrictionSyntaxError) {
      process.stderr.write(`tokenfence token ${cmd.name()}: ${err.code}: ${err.message}\n`);
      return EXIT_REFUSED;
    }
    failure = err;
    throw new Error(`cannot use ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await tokens.close().catch((err: unknown) => {
      // A failure to close after the task failed adds nothing; after it succeeded, it is the news.
      if (failure === undefined) throw new Error(`cannot close ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
  }
}

// ---- the commands ----

/** The restriction text of `create`, linted: errors print with line and column and refuse; warnings print and go on. */
function restrictionsOf(options: CreateOptions, context: TokenCommandContext): { text: string | undefined; ok: boolean } {
  if (options.restrictions === undefined && options.restrictionsFile === undefined) return { text: undefined, ok: true };
  const file = options.restrictionsFile ?? '<text>';
  const text = options.restrictionsFile !== undefined ? context.readText(options.restrictionsFile) : options.restrictions!;
  const result = lintRestrictions(text);
  const diagnostics = [...result.errors.map((d) => ({ d, severity: 'error' })), ...result.warnings.map((d) => ({ d, severity: 'warning' }))];
  diagnostics.sort((a, b) => a.d.line - b.d.line || a.d.column - b.d.column);
  for (const { d, severity } of diagnostics) process.stderr.write(`${file}:${d.line}:${d.column} ${severity} ${d.code} ${d.message}\n`);
  if (!result.ok) {
    const n = result.errors.length;
    process.stderr.write(`tokenfence token create: the restrictions have ${n} error${n === 1 ? '' : 's'}; no token was created\n`);
  }
  return { text, ok: result.ok };
}

async function create(cmd: Command, options: CreateOptions, context: TokenCommandContext): Promise<number> {
  if (options.owner === undefined && options.anyUser !== true) cmd.error('error: give the owner with --owner <name>, or --any-user for a token that acts as the Basic user name');
  // The restrictions are checked before the store is opened: a typo costs no connection and writes nothing.
  const restrictions = restrictionsOf(options, context);
  if (!restrictions.ok) return EXIT_REFUSED;
  const owner = options.anyUser === true ? null : options.owner!;
  const expiresAt = options.expiresAt ?? (options.expiresInDays !== undefined ? new Date(Date.now() + options.expiresInDays * DAY_MS) : undefined);
  const policy: TokenPolicy = {
    maxLifetimeDays: options.maxLifetimeDays,
    defaultLifetimeDays: options.defaultLifetimeDays,
    requireExpiry: options.requireExpiry,
    maxTokensPerUser: options.maxTokensPerUser,
  };
  return withTokens(cmd, options, context, { mustExist: false, policy }, async (tokens) => {
    const { token, record } = await tokens.issue({ owner, label: options.label, expiresAt, restrictions: restrictions.text });
    // The secret goes to stdout only, once; nothing about it goes to stderr.
    if (options.json === true) {
      printJson({ token, record: recordJson(record) });
      return 0;
    }
    const rules = record.restrictions === '' ? 0 : record.restrictions.split('\n').length;
    process.stdout.write(
      [
        `Created token ${record.id} for ${ownerName(record.owner)} (${JSON.stringify(printable(record.label))}).`,
        `  expires:      ${record.expiresAt === null ? 'never' : when(record.expiresAt, '')}`,
        `  restrictions: ${rules === 0 ? 'none (it may do whatever its user may)' : `${rules} rule line${rules === 1 ? '' : 's'}`}`,
        ...(record.owner === null ? ['  any-user:     send it with HTTP Basic, the user name as the Basic user name (Bearer is refused)'] : []),
        '',
        'The token is shown this once and cannot be recovered; store it now:',
        '',
        token,
        '',
      ].join('\n'),
    );
    return 0;
  });
}

async function list(cmd: Command, options: ListOptions, context: TokenCommandContext): Promise<number> {
  return withTokens(cmd, options, context, { mustExist: true }, async (tokens) => {
    const records = options.anyUser === true ? await tokens.list(null) : options.owner !== undefined ? await tokens.list(options.owner) : await tokens.listAll();
    if (options.json === true) printJson(records.map(recordJson));
    else process.stdout.write(records.length === 0 ? 'no tokens\n' : table(records, new Date()));
    return 0;
  });
}

async function revoke(cmd: Command, id: string | undefined, options: RevokeOptions, context: TokenCommandContext): Promise<number> {
  const owner = options.anyUser === true ? null : options.owner;
  if (options.all === true) {
    if (id !== undefined) cmd.error('error: give a token id or --all, not both');
    if (owner === undefined) cmd.error('error: --all revokes every token of one user: add --owner <name> (or --any-user)');
  } else if (id === undefined) {
    cmd.error('error: give the id of the token to revoke, or --all --owner <name>');
  }
  return withTokens(cmd, options, context, { mustExist: true }, async (tokens) => {
    if (options.all === true) {
      const count = await tokens.revokeAll(owner!);
      if (options.json === true) printJson({ owner, revoked: count });
      else process.stdout.write(count === 0 ? `no live tokens of ${ownerName(owner!)} to revoke\n` : `revoked ${count} token${count === 1 ? '' : 's'} of ${ownerName(owner!)}\n`);
      return 0;
    }
    // Checked before revoking: --owner is a guard against revoking someone else's token by a mistyped id.
    const before = await tokens.get(id!);
    if (before !== undefined && owner !== undefined && before.owner !== owner) {
      process.stderr.write(`tokenfence token revoke: token ${before.id} belongs to ${ownerName(before.owner)}, not ${ownerName(owner)}; nothing was revoked\n`);
      return EXIT_REFUSED;
    }
    const started = Date.now();
    // An unknown id is the service's not_found: its message repeats the id only when it has an id's shape.
    const record = await tokens.revoke(id!);
    const already = record.revokedAt !== null && record.revokedAt.getTime() < started;
    if (options.json === true) printJson({ record: recordJson(record), alreadyRevoked: already });
    else if (already) process.stdout.write(`token ${record.id} was already revoked at ${when(record.revokedAt, '')}\n`);
    else process.stdout.write(`revoked token ${record.id} of ${ownerName(record.owner)} (${JSON.stringify(printable(record.label))})\n`);
    return 0;
  });
}

/** Adds --sqlite, --pg, --pg-table, --prefix and --json to a token command. */
function storeOptions(cmd: Command, json: string): Command {
  return cmd
    .addOption(new Option('--sqlite <file>', 'the SQLite token database (SqliteTokenStore) the server uses').conflicts('pg'))
    .option('--pg <url>', 'the PostgreSQL database (PostgresTokenStore), as postgres://user@host:port/db; needs the pg package')
    .option('--pg-table <name>', "the PostgresTokenStore table, when the server sets one (default: tokenfence_tokens)")
    .option('--prefix <prefix>', 'the token prefix, when the server sets one (default: tfk_)')
    .option('--json', json)
    .addHelpText('after', ENVIRONMENT_HELP);
}

/**
 * Adds `token create|list|revoke` to the program. Built with `program.command`, so the subcommands
 * inherit its settings (usage errors thrown to the runner, help after an error).
 */
export function addTokenCommand(program: Command, context: TokenCommandContext): Command {
  const token = program
    .command('token')
    .description('create, list and revoke API tokens in the SQLite or PostgreSQL store of a server')
    .addHelpText('after', ENVIRONMENT_HELP);

  const createCommand = token.command('create').description('create a token and print its secret, once');
  storeOptions(createCommand, 'print { token, record } as one JSON object, for scripts')
    .addOption(new Option('--owner <name>', 'the user the token acts as').conflicts('anyUser'))
    .option('--any-user', 'an any-user token (owner null): used with HTTP Basic, it acts as the Basic user name')
    .requiredOption('--label <text>', 'what the token is for, as lists show it')
    .addOption(new Option('--expires-in-days <n>', 'expire after n days').argParser(wholeNumber('--expires-in-days', 36_500)).conflicts('expiresAt'))
    .addOption(new Option('--expires-at <iso>', 'expire at a date (midnight UTC) or a date-time with a zone, such as 2030-01-31T18:00Z').argParser(parseInstant))
    .addOption(new Option('--restrictions-file <file>', 'restriction rules from a file (- for stdin)').conflicts('restrictions'))
    .option('--restrictions <rules>', "restriction rules as text (use $'…\\n…' for several lines)")
    .option('--max-lifetime-days <n>', "the server's policy.maxLifetimeDays", wholeNumber('--max-lifetime-days', 36_500))
    .option('--default-lifetime-days <n>', "the server's policy.defaultLifetimeDays (the lifetime of a token given no expiry)", wholeNumber('--default-lifetime-days', 36_500))
    .option('--require-expiry', "the server's policy.requireExpiry")
    .option('--max-tokens-per-user <n>', "the server's policy.maxTokensPerUser", wholeNumber('--max-tokens-per-user', 1_000_000))
    .action(async (options: CreateOptions, cmd: Command) => context.setExit(await create(cmd, options, context)));

  const listCommand = token.command('list').description('list tokens: id, owner, label, created, last used, expiry, uses, revoked (never secrets)');
  storeOptions(listCommand, 'print the records as a JSON array, for scripts')
    .addOption(new Option('--owner <name>', "only this user's tokens").conflicts(['anyUser', 'all']))
    .addOption(new Option('--any-user', 'only the any-user tokens').conflicts('all'))
    .option('--all', "every user's tokens (the default)")
    .action(async (options: ListOptions, cmd: Command) => context.setExit(await list(cmd, options, context)));

  const revokeCommand = token
    .command('revoke')
    .description('revoke a token by id, or every live token of a user with --all --owner <name>; a running server refuses it within 1 s')
    .argument('[id]', 'the token id (the 12 characters after the prefix, as lists show it)');
  storeOptions(revokeCommand, 'print the result as JSON, for scripts')
    .addOption(new Option('--owner <name>', 'with an id: revoke only if the token is this user\'s; with --all: whose tokens').conflicts('anyUser'))
    .option('--any-user', 'like --owner, for the any-user tokens')
    .option('--all', 'revoke every live token of the --owner (or --any-user)')
    .action(async (id: string | undefined, options: RevokeOptions, cmd: Command) => context.setExit(await revoke(cmd, id, options, context)));

  return token;
}
