// The `tokenfence` command: check a request against rules, lint rule files, run policy fixtures, manage tokens (SPEC §10).
import { readFileSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { evaluateRestrictions, lintRestrictions, parseRestrictions, RestrictionSyntaxError } from '../index.js';
import { runFixtureDir, runFixturePath } from './fixtures.js';
import { addTokenCommand } from './token.js';
import { VERSION } from './version.js';

/** Exit codes: 0 allowed / clean / done, 1 denied / errors found / cases failed / refused, 2 the command itself could not run. */
const EXIT_USAGE = 2;

/** A problem the user can fix (a file that cannot be read): printed as one line, exit 2. */
class UsageError extends Error {}

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** A file error (an errno code) as the one-line usage error it is; anything else is rethrown as it is. */
function cannotRead(path: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) throw err;
  return new UsageError(`cannot read ${path === '-' ? 'standard input' : path}: ${FILE_PROBLEMS[code] ?? (err as Error).message}`);
}

function readText(path: string): string {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw cannotRead(path, err);
  }
}

/** The methods the grammar knows (SPEC §2), in the order it lists them. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function parseMethod(value: string): string {
  const method = value.toUpperCase();
  if (!METHODS.includes(method)) throw new InvalidArgumentError(`unknown method ${JSON.stringify(value)}: one of ${METHODS.join(', ')}`);
  return method;
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function printSyntaxError(err: RestrictionSyntaxError, file: string): void {
  for (const e of err.errors) process.stderr.write(`${file}:${e.line}:${e.column} ${e.code} ${e.message}\n`);
}

interface CheckOptions {
  rules?: string;
  text?: string;
  method: string;
  url: string;
  contentType?: string;
  body?: unknown;
  caseInsensitive?: boolean;
  strict?: boolean;
  basePath?: string;
}

function check(options: CheckOptions): number {
  if ((options.rules === undefined) === (options.text === undefined)) {
    process.stderr.write('tokenfence check: give the rules with exactly one of --rules <file> or --text <rules>\n');
    return EXIT_USAGE;
  }
  const file = options.rules ?? '<text>';
  const text = options.rules !== undefined ? readText(options.rules) : options.text!;
  let set;
  try {
    set = parseRestrictions(text);
  } catch (err) {
    if (!(err instanceof RestrictionSyntaxError)) throw err;
    printSyntaxError(err, file);
    return EXIT_USAGE;
  }
  const decision = evaluateRestrictions(
    set,
    { method: options.method, url: options.url, contentType: options.contentType, body: options.body },
    { caseInsensitive: options.caseInsensitive === true, strict: options.strict === true, basePath: options.basePath ?? '' },
  );
  const verdict = decision.allowed ? 'ALLOWED' : 'DENIED';
  const detail = decision.allowed ? (decision.line !== undefined ? `line ${decision.line}` : 'no restrictions') : decision.reason;
  process.stdout.write(`${verdict} (${detail})\n${decision.explanation}\n`);
  return decision.allowed ? 0 : 1;
}

function lint(files: string[]): number {
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    const result = lintRestrictions(readText(file));
    const all = [...result.errors, ...result.warnings].sort((a, b) => a.line - b.line || a.column - b.column);
    const severity = new Map<object, string>([...result.errors.map((e) => [e, 'error'] as const), ...result.warnings.map((w) => [w, 'warning'] as const)]);
    for (const d of all) process.stdout.write(`${file}:${d.line}:${d.column} ${severity.get(d)} ${d.code} ${d.message}\n`);
    errors += result.errors.length;
    warnings += result.warnings.length;
  }
  process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
  return errors > 0 ? 1 : 0;
}

function test(path: string): number {
  let results;
  try {
    results = statSync(path).isDirectory() ? runFixtureDir(path) : runFixturePath(path);
  } catch (err) {
    throw cannotRead(path, err);
  }
  const failed = results.filter((r) => !r.passed);
  for (const r of failed) process.stdout.write(`FAIL ${r.file} › ${r.name}\n  ${r.problem ?? ''}\n`);
  process.stdout.write(`${results.length - failed.length} passed, ${failed.length} failed\n`);
  return failed.length > 0 || results.length === 0 ? 1 : 0;
}

/** Builds the command tree; `run` sets the exit code so tests can call it in-process. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('tokenfence')
    .description('API token restriction rules: check requests, lint rule files, run policy fixtures, manage tokens')
    .version(VERSION, '-V, --version', 'print the version of tokenfence')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('check')
    .description('evaluate one request against restriction rules; exit 0 when allowed, 1 when denied')
    .addOption(new Option('--rules <file>', 'read the rules from a file (- for stdin)').conflicts('text'))
    .option('--text <rules>', 'the rules as a string (use $\'…\\n…\' for several lines)')
    .requiredOption('-X, --method <method>', `the request method: ${METHODS.join(', ')} (any case)`, parseMethod)
    .requiredOption('--url <target>', 'the request target as sent on the wire: path and ?query, percent-encoded')
    .option('--content-type <type>', 'the Content-Type of the request')
    .option('--body <json>', 'the JSON body of the request', parseJson)
    .option('--case-insensitive', 'match URL regexes ignoring case (rules match case-sensitively by default)')
    .option('--base-path <path>', "the context path a leading .* stands for, such as /jira (default: none)")
    .option('--strict', 'keep a trailing slash (Express "strict routing")')
    .action((options: CheckOptions) => setExit(check(options)));

  program
    .command('lint')
    .description('report errors and warnings as file:line:column error|warning code message; exit 1 on errors')
    .argument('<files...>', 'rule files (- for stdin)')
    .action((files: string[]) => setExit(lint(files)));

  program
    .command('test')
    .description('run the policy fixture cases of a file or a folder; exit 1 when a case fails')
    .argument('<path>', 'a fixture .json file, or a folder of them')
    .action((path: string) => setExit(test(path)));

  addTokenCommand(program, { setExit, readText, cannotRead });

  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    if (typeof exitCode === 'number') return exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof UsageError) {
      process.stderr.write(`tokenfence: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`tokenfence: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_USAGE;
  }
  return code;
}
