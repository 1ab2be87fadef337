// The regex analysis libraries load at the first parse or lint, not with the package (src/rules/analysis-libs.ts).
// The child-process tests read the build: `npm test` builds before jest; alone, run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { analysisLibs } from '../../../src/rules/analysis-libs.js';

const DIST = resolve(__dirname, '..', '..', '..', 'dist', 'cjs', 'index.js');
const ANALYSIS = ['@eslint-community/regexpp', 'refa', 'regexp-ast-analysis', 'safe-regex2', 'ret'];

/** Runs `body` in a fresh node after `const tf = require(dist)`; `loaded()` lists the ANALYSIS packages in require.cache. */
function child(body: string): Record<string, unknown> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first (\`npm test\` builds before jest)`);
  const script = `
const packages = ${JSON.stringify(ANALYSIS)};
const loaded = () => packages.filter((p) => Object.keys(require.cache).some((f) => f.replace(/\\\\/g, '/').includes('/node_modules/' + p + '/')));
const tf = require(${JSON.stringify(DIST)});
const out = { afterImport: loaded() };
${body}
process.stdout.write(JSON.stringify(out));
`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
}

describe('the regex analysis libraries load lazily', () => {
  test('not with the package root; at the first parse, and the parsed set evaluates', () => {
    const out = child(`
const set = tf.parseRestrictions('[get]/rest/x[QueryParam::a==b+]');
out.afterParse = loaded();
out.allowed = tf.evaluateRestrictions(set, { method: 'GET', url: '/rest/x?a=bbb' }).allowed;
out.denied = tf.evaluateRestrictions(set, { method: 'GET', url: '/rest/x?a=c' }).allowed;
out.ci = tf.evaluateRestrictions(set, { method: 'GET', url: '/REST/x?a=b' }, { caseInsensitive: true }).allowed;
`);
    expect(out.afterImport).toEqual([]);
    expect(out.afterParse).toEqual(ANALYSIS);
    expect(out).toMatchObject({ allowed: true, denied: false, ci: true });
  });

  test('at the first lint', () => {
    const out = child(`
const result = tf.lintRestrictions('rest/x');
out.afterLint = loaded();
out.codes = result.warnings.map((w) => w.code);
`);
    expect(out.afterImport).toEqual([]);
    expect(out.afterLint).toEqual(expect.arrayContaining(['@eslint-community/regexpp', 'refa', 'regexp-ast-analysis']));
    expect(out.codes).toContain('unmatchable_url');
  });

  test('a basePath evaluation compiles a context-path regex on first use', () => {
    // urlRegex compiles a new (mode, basePath) regex through captureFree/anyCharFree, which use the libraries.
    const out = child(`
const set = tf.parseRestrictions('.*/rest/x');
out.jira = tf.evaluateRestrictions(set, { method: 'GET', url: '/jira/REST/x' }, { basePath: '/jira', caseInsensitive: true }).allowed;
out.other = tf.evaluateRestrictions(set, { method: 'GET', url: '/other/rest/x' }, { basePath: '/jira' }).allowed;
`);
    expect(out).toMatchObject({ afterImport: [], jira: true, other: false });
  });
});

describe('analysisLibs', () => {
  test('loads each library once, with safe-regex2 as its function', () => {
    const libs = analysisLibs();
    expect(analysisLibs()).toBe(libs);
    expect(typeof libs.safeRegex).toBe('function');
    expect(libs.safeRegex('(a+)+$')).toBe(false);
    expect(libs.safeRegex('a+b')).toBe(true);
    expect(typeof libs.regexpp.RegExpParser).toBe('function');
    expect(libs.refa.CharSet.all(0xffff).isAll).toBe(true);
    expect(typeof libs.rea.toCharSet).toBe('function');
  });
});
