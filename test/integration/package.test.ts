// The built package, imported the way users import it: require and import by name, with type declarations for both.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const consumer = mkdtempSync(join(tmpdir(), 'tf-consumer-'));
mkdirSync(join(consumer, 'node_modules'));
symlinkSync(root, join(consumer, 'node_modules', 'tokenfence'), 'dir');
afterAll(() => rmSync(consumer, { recursive: true, force: true }));

const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: consumer, encoding: 'utf8' });
const USE = `
const set = parseRestrictions('[GET]/rest/api/2/issue/[A-Z]+-\\\\d+');
const decision = evaluateRestrictions(set, { method: 'GET', url: '/rest/api/2/issue/JRA-1' });
let code = '';
try { parseRestrictions('[FOO]/x'); } catch (err) { if (err instanceof RestrictionSyntaxError) code = err.errors[0].code; }
console.log(JSON.stringify({ allowed: decision.allowed, line: decision.line, code }));
`;
const EXPECTED = { allowed: true, line: 1, code: 'unknown_method' };

describe('the built package', () => {
  test('require("tokenfence") gives the CommonJS build', () => {
    writeFileSync(join(consumer, 'use.cjs'), `const { parseRestrictions, evaluateRestrictions, RestrictionSyntaxError } = require('tokenfence');\n${USE}`);
    expect(JSON.parse(node(['use.cjs']))).toEqual(EXPECTED);
    expect(node(['-p', 'require.resolve("tokenfence")']).trim()).toMatch(/dist[\\/]cjs[\\/]index\.js$/);
  });

  test('import from "tokenfence" gives the ES module build', () => {
    writeFileSync(join(consumer, 'use.mjs'), `import { parseRestrictions, evaluateRestrictions, RestrictionSyntaxError } from 'tokenfence';\n${USE}`);
    expect(JSON.parse(node(['use.mjs']))).toEqual(EXPECTED);
    expect(node(['--input-type=module', '-e', 'console.log(import.meta.resolve("tokenfence"))']).trim()).toMatch(/dist\/esm\/index\.js$/);
  });

  test('require and import give one copy of tokenfence (one GuardError class, one set of request locks)', () => {
    writeFileSync(
      join(consumer, 'both.mjs'),
      `import { createRequire } from 'node:module';\nimport * as esm from 'tokenfence';\nconst cjs = createRequire(import.meta.url)('tokenfence');\n` +
        `const names = Object.keys(cjs).filter((n) => n !== '__esModule');\n` +
        `console.log(JSON.stringify({ same: names.filter((n) => esm[n] !== cjs[n]), missing: names.filter((n) => !(n in esm)), guardError: esm.GuardError === cjs.GuardError, count: names.length }));`,
    );
    const result = JSON.parse(node(['both.mjs'])) as { same: string[]; missing: string[]; guardError: boolean; count: number };
    expect(result).toEqual({ same: [], missing: [], guardError: true, count: expect.any(Number) });
    expect(result.count).toBeGreaterThan(25);
  });

  test('the root import loads no native module, rate limiter or CLI library; each loads when used', () => {
    const loaded = `const pkgs = () => [...new Set(Object.keys(require.cache).map((f) => /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f)?.[1]).filter(Boolean))];`;
    const script = `${loaded}
const tf = require('tokenfence');
const atImport = pkgs();
const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'tf-lazy-'));
new tf.SqliteTokenStore(require('node:path').join(dir, 't.db')).close();
const afterSqlite = pkgs();
tf.tokenGuard({ tokens: tf.createTokenService({ store: new tf.MemoryTokenStore() }), rateLimit: { points: 5, duration: 1 } });
const afterLimit = pkgs();
require('node:fs').rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ atImport, afterSqlite, afterLimit }));`;
    writeFileSync(join(consumer, 'lazy.cjs'), script);
    const { atImport, afterSqlite, afterLimit } = JSON.parse(node(['lazy.cjs'])) as Record<string, string[]>;
    for (const heavy of ['better-sqlite3', 'rate-limiter-flexible', 'commander', 'ajv', 'express-session', 'connect-pg-simple', 'express']) expect(atImport).not.toContain(heavy);
    expect(afterSqlite).toContain('better-sqlite3');
    expect(afterLimit).toContain('rate-limiter-flexible');
    expect(afterLimit).not.toContain('commander');
  });

  test('type declarations resolve for both CommonJS and ES module consumers', () => {
    const typed = `
const set = parseRestrictions('/x');
const d: Decision = evaluateRestrictions(set, { method: 'GET', url: '/x' });
const allowed: boolean = d.allowed;
// @ts-expect-error: evaluateRestrictions needs a parsed set, not a string
evaluateRestrictions('/x', { method: 'GET', url: '/x' });
// The guard's principal reaches Express's Request by declaration merging.
const guard = tokenGuard({ tokens: createTokenService({ store: new MemoryTokenStore() }) });
const req = {} as Express.Request;
const user: string | undefined = req.tokenfence?.user;
const via: 'bearer' | 'basic' | undefined = req.tokenfence?.via;
// @ts-expect-error: the principal is read-only data, not a string
const wrong: string = req.tokenfence;
// With setUser: true the app says once what req.user is; passport declares req.user the same way.
declare global {
  namespace Express {
    interface User extends TokenPrincipal {}
  }
}
const tokenId: string | undefined = req.user?.tokenId;
export { allowed, RestrictionSyntaxError, guard, user, via, wrong, tokenId };
`;
    // A consumer of an Express middleware has @types/node (the guard's types name node:http's request).
    mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'), 'dir');
    const imports = 'import { parseRestrictions, evaluateRestrictions, RestrictionSyntaxError, type Decision, type TokenPrincipal, tokenGuard, createTokenService, MemoryTokenStore } from \'tokenfence\';';
    writeFileSync(join(consumer, 'types.cts'), `${imports}\n${typed}`);
    writeFileSync(join(consumer, 'types.mts'), `${imports}\n${typed}`);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], traceResolution: false }, files: ['types.cts', 'types.mts'] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = execFileSync(process.execPath, [tsc, '-p', consumer, '--listFiles'], { cwd: consumer, encoding: 'utf8' });
    expect(out).toMatch(/dist\/cjs\/index\.d\.ts/);
    expect(out).toMatch(/dist\/esm\/index\.d\.ts/);
  });

  test('the tokenfence executable runs the policy fixtures', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist', 'cjs', 'cli', 'bin.js'), 'test', join(root, 'fixtures')], { encoding: 'utf8' });
    expect(out).toMatch(/^(\d+) passed, 0 failed\n$/m);
    expect(Number(/^(\d+) passed/m.exec(out)![1])).toBeGreaterThanOrEqual(150);
  });
});
