// End to end: the tarball `npm pack` makes, installed by npm into throwaway consumer apps as users install
// it, and used the way they use it.
//
// - A CommonJS app on Express 4, installed with install scripts (better-sqlite3 is compiled: about 75 s), that
//   keeps tokens in a SqliteTokenStore file and guards a real server (test/e2e/consumer/cjs-app.js).
// - An ES module app on Express 5, installed with --ignore-scripts (no native build), that guards a real
//   server with a MemoryTokenStore, loads the package both ways, and expects SqliteTokenStore to say what to
//   install or rebuild (test/e2e/consumer/esm-app.mjs).
// - Two TypeScript apps (Express 5 types, and Express 4 types from @types/express@4), installed with
//   --ignore-scripts, that type-check every ```ts block of the README and API_CHECK below under strict
//   settings with skipLibCheck off: as ES modules under node16 and bundler resolution, and API_CHECK also
//   as CommonJS under node16.
//
// Both HTTP apps share test/e2e/consumer/guard-checks.cjs and print one JSON line; the assertions are here.
// The installs all start in beforeAll and run side by side; each test waits for its own.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const fixtures = join(__dirname, 'consumer');
const SECOND = 1000;
const MINUTE = 60 * SECOND;

interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ms: number;
  stdout: string;
  stderr: string;
}

// The npm that runs jest (`npm test`) leaves its own package's variables in the environment; the nested
// npm commands run for the consumer apps, not for this package.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_(package|lifecycle)_/i.test(key) && !/^npm_config_(local_prefix|ignore_scripts)$/i.test(key)),
);

/** Runs a command to its end or its time limit (then kills its process group); never rejects. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const text = `${command} ${args.join(' ')}  (in ${cwd})`;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ command: text, code, signal, timedOut, ms: Date.now() - started, stdout, stderr });
    };
    child.on('error', (err) => {
      stderr += `\n${String(err)}`;
      done(null, null);
    });
    child.on('close', done);
  });
}

const tail = (s: string, n = 4000) => (s.length > n ? `…${s.slice(-n)}` : s);
const describeRun = (r: RunResult) =>
  `${r.command}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ', TIMED OUT' : ''} after ${(r.ms / SECOND).toFixed(1)} s\n` +
  `--- stdout (tail) ---\n${tail(r.stdout)}\n--- stderr (tail) ---\n${tail(r.stderr)}`;

/** The JSON line an app prints last; throws with the app's output when it did not finish well. */
function resultOf(r: RunResult): Record<string, any> {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    parsed = undefined;
  }
  if (r.code !== 0 || typeof parsed !== 'object' || parsed === null) throw new Error(`the consumer app failed:\n${describeRun(r)}`);
  return parsed as Record<string, any>;
}

/** A consumer app: its folder, package.json, files, and how npm installs it. */
interface App {
  dir: string;
  packageJson: Record<string, unknown>;
  files: Record<string, string>;
  /** Install specs after the tarball. */
  specs: string[];
  installScripts: boolean;
  installTimeoutMs: number;
}

// (ii) of the brief: the API as a typed consumer uses it. Checked as an ES module and as CommonJS.
const API_CHECK = `import express from 'express';
import { createTokenService, MemoryTokenStore, tokenGuard, type TokenPrincipal } from 'tokenfence';

// exactOptionalPropertyTypes: process.env gives string | undefined.
const tokens = createTokenService({ store: new MemoryTokenStore(), pepper: process.env.TOKEN_PEPPER });

// The guard is an Express middleware as Express's own types see it.
const h: express.RequestHandler = tokenGuard({ tokens });

const app = express();
app.use(tokenGuard({ tokens, setUser: true }));
app.use(h);
// The callbacks get Express's Request.
app.use(tokenGuard({ tokens, setUser: (principal, req) => req.get('x'), requestId: (req) => req.get('x-request-id') }));
app.use(tokenGuard({ tokens, setUser: async (principal: TokenPrincipal, req: express.Request) => ({ name: principal.user, host: req.hostname }) }));

// Declaration merging: req.tokenfence on Express's Request, no cast.
app.get('/rest/api/2/myself', (req: express.Request, res: express.Response) => {
  const user: string | undefined = req.tokenfence?.user;
  const via: 'bearer' | 'basic' | undefined = req.tokenfence?.via;
  res.json({ user, via });
  // @ts-expect-error: the types are not any: the principal's user is a string
  const wrong: number | undefined = req.tokenfence?.user;
  void wrong;
});
// @ts-expect-error: "scopes" is not an option (it is "scope")
tokenGuard({ tokens, scopes: ['/rest/*path'] });
const router = express.Router();
router.use(tokenGuard({ tokens, scope: '/rest/*path', required: true }));
app.use(router);

export { app };
`;

// Every \`\`\`ts block of the README, unchanged. Each block is a module file of its own, since each one carries
// its own imports; a block with no import declaration would be a fragment continuing the block before it, and
// is appended to that block's file (none is, as of writing). The blocks are ES modules (import syntax, and
// top-level await in the tokens example), so they are checked under the two ES module configurations; the
// CommonJS configuration checks API_CHECK.
function readmeBlocks(): { file: string; line: number; source: string }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const modules: { file: string; line: number; source: string }[] = [];
  for (const m of readme.matchAll(/^```ts\r?\n([\s\S]*?)^```[ \t]*$/gm)) {
    const source = m[1]!;
    const line = readme.slice(0, m.index).split('\n').length + 1; // the block's first line in README.md
    const last = modules[modules.length - 1];
    if (last && !/^\s*import\s/m.test(source)) last.source += `\n${source}`;
    else modules.push({ file: `src/readme-${modules.length + 1}.ts`, line, source });
  }
  return modules;
}
const readmeModules = () => Object.fromEntries(readmeBlocks().map((b) => [b.file, b.source]));

const COMPILER_OPTIONS = {
  target: 'ES2022',
  lib: ['ES2022'],
  strict: true,
  exactOptionalPropertyTypes: true,
  noEmit: true,
  skipLibCheck: false,
};

/** The TypeScript configurations: ES modules (the app is "type": "module") and CommonJS (cjs/ is "type": "commonjs"). */
const TS_CONFIGS = {
  'tsconfig.node16-esm.json': { compilerOptions: { ...COMPILER_OPTIONS, module: 'node16', moduleResolution: 'node16' }, include: ['src/**/*.ts'] },
  'tsconfig.bundler.json': { compilerOptions: { ...COMPILER_OPTIONS, module: 'esnext', moduleResolution: 'bundler' }, include: ['src/**/*.ts'] },
  'tsconfig.node16-cjs.json': { compilerOptions: { ...COMPILER_OPTIONS, module: 'node16', moduleResolution: 'node16' }, include: ['cjs/**/*.ts'] },
};
/** Which build of tokenfence's declarations each configuration must have read. */
const TS_BUILD: Record<string, string> = {
  'tsconfig.node16-esm.json': 'node_modules/tokenfence/dist/esm/index.d.ts',
  'tsconfig.bundler.json': 'node_modules/tokenfence/dist/esm/index.d.ts',
  'tsconfig.node16-cjs.json': 'node_modules/tokenfence/dist/cjs/index.d.ts',
};

function typeScriptApp(express: '4' | '5'): App {
  const files: Record<string, string> = {
    ...readmeModules(),
    'src/api-check.ts': API_CHECK,
    'cjs/package.json': JSON.stringify({ type: 'commonjs' }),
    'cjs/api-check.ts': API_CHECK,
  };
  for (const [name, config] of Object.entries(TS_CONFIGS)) files[name] = JSON.stringify(config, null, 2);
  return {
    dir: `ts-express${express}`,
    packageJson: {
      name: `consumer-ts-express${express}`,
      version: '1.0.0',
      private: true,
      type: 'module',
      devDependencies: { typescript: '5.9', '@types/node': '20', express, '@types/express': express },
    },
    files,
    specs: [],
    installScripts: false,
    installTimeoutMs: 5 * MINUTE,
  };
}

const APPS = {
  cjs: {
    dir: 'cjs-express4',
    // allowScripts: npm 11 reports (and a later npm will block) install scripts the project has not approved.
    packageJson: { name: 'consumer-cjs-express4', version: '1.0.0', private: true, allowScripts: { 'better-sqlite3': true } },
    files: { 'app.js': readFileSync(join(fixtures, 'cjs-app.js'), 'utf8'), 'guard-checks.cjs': readFileSync(join(fixtures, 'guard-checks.cjs'), 'utf8') },
    specs: ['express@4'],
    installScripts: true,
    installTimeoutMs: 8 * MINUTE,
  },
  esm: {
    dir: 'esm-express5',
    packageJson: { name: 'consumer-esm-express5', version: '1.0.0', private: true, type: 'module' },
    files: { 'app.mjs': readFileSync(join(fixtures, 'esm-app.mjs'), 'utf8'), 'guard-checks.cjs': readFileSync(join(fixtures, 'guard-checks.cjs'), 'utf8') },
    specs: ['express@5'],
    installScripts: false,
    installTimeoutMs: 5 * MINUTE,
  },
  ts5: typeScriptApp('5'),
  ts4: typeScriptApp('4'),
} satisfies Record<string, App>;
type AppName = keyof typeof APPS;

describe('the packed tarball in consumer apps installed by npm', () => {
  let work: string | undefined;
  const installs = new Map<AppName, Promise<RunResult>>();
  const dirOf = (name: AppName) => join(work!, APPS[name].dir);

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'cjs', 'index.js')) || !existsSync(join(root, 'dist', 'esm', 'index.js'))) {
      throw new Error('dist/cjs/index.js or dist/esm/index.js is missing: run `npm run build` first (`npm test` builds before jest)');
    }
    work = mkdtempSync(join(tmpdir(), 'tokenfence-consumer-'));
    // The test run built dist already; --ignore-scripts skips the prepack build.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root, 2 * MINUTE);
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${describeRun(packed)}`);
    const tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);

    for (const name of Object.keys(APPS) as AppName[]) {
      const app: App = APPS[name];
      const dir = dirOf(name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify(app.packageJson, null, 2));
      for (const [file, source] of Object.entries(app.files)) {
        mkdirSync(join(dir, file, '..'), { recursive: true });
        writeFileSync(join(dir, file), source);
      }
      const flags = ['--no-audit', '--no-fund', '--no-package-lock', ...(app.installScripts ? [] : ['--ignore-scripts'])];
      installs.set(name, run('npm', ['install', ...flags, tarball, ...app.specs], dir, app.installTimeoutMs));
    }
  }, 3 * MINUTE);

  afterAll(async () => {
    await Promise.all(installs.values()); // each is bounded by its own time limit
    if (work) rmSync(work, { recursive: true, force: true });
  }, 10 * MINUTE);

  async function installed(name: AppName): Promise<string> {
    const install = await installs.get(name);
    if (!install) throw new Error(`${name} was not installed (see beforeAll)`);
    if (install.code !== 0) throw new Error(`npm install failed:\n${describeRun(install)}`);
    return dirOf(name);
  }

  /** The guard's answers over HTTP, the same in both apps. */
  function expectGuardAnswers(r: Record<string, any>) {
    expect(r.allowed).toMatchObject({ status: 200, body: { key: 'JRA-12', tokenfence: { user: 'alice', tokenId: r.tokenId, via: 'bearer', line: 1 } } });
    expect(r.allowedBasic).toMatchObject({ status: 200, body: { key: 'JRA-7', tokenfence: { user: 'alice', tokenId: r.tokenId, via: 'basic', line: 1 } } });
    expect(r.anonymous).toMatchObject({ status: 200, body: { tokenfence: null } });
    for (const refused of [r.refusedMethod, r.refusedPath]) {
      expect(refused).toMatchObject({ status: 403, body: { error: { status: 403, code: 'restricted' } } });
      expect(refused.wwwAuthenticate).toMatch(/^Bearer .*error="insufficient_scope"/);
    }
    expect(r.badToken).toMatchObject({ status: 401, body: { error: { status: 401, code: 'checksum' } } });
    expect(r.badToken.wwwAuthenticate).toMatch(/^Bearer .*error="invalid_token"/);
  }

  test('ES module app on Express 5, installed without install scripts: named imports, MemoryTokenStore, and SqliteTokenStore says what to do', async () => {
    const dir = await installed('esm');
    const r = resultOf(await run(process.execPath, ['app.mjs'], dir, MINUTE));
    expect(r.nativeBuild).toBe(false); // the precondition: nothing was compiled
    expect(r.express).toMatch(/^5\./);
    expect(r.resolvedEsm).toMatch(/\/node_modules\/tokenfence\/dist\/esm\/index\.js$/);
    expect(r.resolvedCjs).toMatch(/[\\/]node_modules[\\/]tokenfence[\\/]dist[\\/]cjs[\\/]index\.js$/);
    expect(r.loads).toEqual([
      { how: 'import()', ok: true },
      { how: 'createRequire', ok: true },
    ]);
    expectGuardAnswers(r);
    // Without better-sqlite3's native build, the store must fail with an Error that says what to do.
    for (const sqlite of [r.sqliteEsm, r.sqliteCjs]) {
      expect(sqlite).toMatchObject({ threw: true, isError: true });
      expect(sqlite.message).toMatch(/better-sqlite3/);
      expect(sqlite.message).toMatch(/npm (rebuild|install|i)\b/);
    }
  }, 10 * MINUTE);

  for (const [name, expressMajor] of [['ts5', '5'], ['ts4', '4']] as const) {
    test(`TypeScript on Express ${expressMajor} types: the README's ts blocks and the API type-check (strict, exactOptionalPropertyTypes, node16 ESM and CJS, bundler)`, async () => {
      const dir = await installed(name);
      const typesVersion = (JSON.parse(readFileSync(join(dir, 'node_modules/@types/express/package.json'), 'utf8')) as { version: string }).version;
      expect(typesVersion.startsWith(`${expressMajor}.`)).toBe(true);
      expect(Object.keys(readmeModules()).length).toBeGreaterThanOrEqual(1);
      const failures: string[] = [];
      for (const config of Object.keys(TS_CONFIGS)) {
        const r = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', config, '--pretty', 'false', '--listFiles'], dir, 3 * MINUTE);
        const listed = r.stdout.split('\n').filter((line) => line.startsWith(dir));
        const errors = r.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(dir)).join('\n');
        if (r.code !== 0 || r.timedOut) failures.push(`tsc -p ${config} (Express ${expressMajor} types): exit ${r.code}${r.timedOut ? ', TIMED OUT' : ''}\n${errors}${tail(r.stderr)}`);
        if (!listed.includes(join(dir, TS_BUILD[config]!))) failures.push(`tsc -p ${config} did not read ${TS_BUILD[config]}`);
      }
      const where = readmeBlocks().map((b) => `${b.file} is the block at README.md line ${b.line}`).join('; ');
      if (failures.length > 0) throw new Error(`${where}\n\n${failures.join('\n\n')}`);
    }, 10 * MINUTE);
  }

  test('CommonJS app on Express 4, installed with install scripts: require, SqliteTokenStore on a file, a real server', async () => {
    const dir = await installed('cjs');
    expect(existsSync(join(dir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    const r = resultOf(await run(process.execPath, ['app.js'], dir, MINUTE));
    expect(r.express).toMatch(/^4\./);
    expect(r.resolved).toMatch(/[\\/]node_modules[\\/]tokenfence[\\/]dist[\\/]cjs[\\/]index\.js$/);
    expectGuardAnswers(r);
    expect(r.dbFile).toBe(true);
    expect(r.reopened).toEqual({ ok: true, user: 'alice', reason: null });
  }, 10 * MINUTE);
});
