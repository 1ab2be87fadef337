import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../support/cli.js';


const dir = mkdtempSync(join(tmpdir(), 'tf-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let folders = 0;
const freshFolder = () => {
  const path = join(dir, `fixtures-${folders++}`);
  mkdirSync(path);
  return path;
};
const rulesFile = join(dir, 'rules.txt');
writeFileSync(rulesFile, '# bot\n[POST]/rest/api/2/issue/KANBAN-100/comment[JsonData::visibility.type==role]\n');

describe('tokenfence check', () => {
  test('ALLOWED with the matched line, exit 0', async () => {
    const r = await cli('check', '--rules', rulesFile, '-X', 'POST', '--url', '/rest/api/2/issue/KANBAN-100/comment', '--content-type', 'application/json', '--body', '{"visibility":{"type":"role"}}');
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/^ALLOWED \(line 2\)\nallowed by line 2: /);
  });

  test('DENIED with the reason and the explanation, exit 1', async () => {
    const r = await cli('check', '--text', '[GET]/x', '--method', 'POST', '--url', '/x');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^DENIED \(no_rule_matched\)\n.*line 1: method POST is not in \[GET\]/s);
  });

  test('ambiguous paths are denied with their reason', async () => {
    const r = await cli('check', '--text', '.*', '--method', 'GET', '--url', '/a/../b');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/DENIED \(ambiguous_path\)/);
  });

  test('invalid rules print file:line:column code message and exit 2', async () => {
    const r = await cli('check', '--text', '/ok\n[FOO]/x', '--method', 'GET', '--url', '/x');
    expect(r.code).toBe(2);
    expect(r.err).toContain('<text>:2:2 unknown_method');
  });

  test('rules match case-sensitively by default; the denial says it would match ignoring case', async () => {
    const r = await cli('check', '--text', '[GET]/rest/api/2/issue/JRA-\\d+', '-X', 'GET', '--url', '/rest/api/2/issue/jra-1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^DENIED \(no_rule_matched\)\n.*line 1: .*it would match ignoring case/s);
  });

  test('--case-insensitive matches URL regexes ignoring case, but not query values', async () => {
    const r = await cli('check', '--text', '[GET]/rest/api/2/issue/JRA-\\d+', '-X', 'GET', '--url', '/rest/api/2/issue/jra-1', '--case-insensitive');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^ALLOWED \(line 1\)\n/);
    const value = await cli('check', '--text', '/rest/q[QueryParam::v==abc]', '-X', 'GET', '--url', '/REST/Q?v=ABC', '--case-insensitive');
    expect(value.code).toBe(1);
    expect(value.out).toMatch(/QueryParam::v: the value of "v" does not match "abc"/);
  });

  test('--case-sensitive is gone: an unknown option, exit 2, with a hint at --case-insensitive', async () => {
    const r = await cli('check', '--text', '/x', '-X', 'GET', '--url', '/x', '--case-sensitive');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/unknown option '--case-sensitive'/);
    expect(r.err).toMatch(/Did you mean --case-insensitive\?/);
  });

  test('a leading .* stands for no context path by default', async () => {
    const r = await cli('check', '--text', '.*/rest/api/2/filter', '-X', 'GET', '--url', '/jira/rest/api/2/filter');
    expect(r.code).toBe(1);
    expect(r.out).toContain('its leading wildcard stands for the context path "" only');
    expect((await cli('check', '--text', '.*/rest/api/2/filter', '-X', 'GET', '--url', '/rest/api/2/filter')).code).toBe(0);
  });

  test('--base-path gives the context path a leading .* stands for', async () => {
    const args = ['check', '--text', '.*/rest/api/2/filter[QueryParam::permissions==true]', '-X', 'DELETE', '--base-path', '/jira'];
    const r = await cli(...args, '--url', '/jira/rest/api/2/filter?permissions=true');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^ALLOWED \(line 1\)\n/);
    const root = await cli(...args, '--url', '/rest/api/2/filter?permissions=true');
    expect(root.code).toBe(1);
    expect(root.out).toContain('its leading wildcard stands for the context path "/jira" only');
    const nested = await cli(...args, '--url', '/jira/rest/api/2/admin/rest/api/2/filter?permissions=true');
    expect(nested.code).toBe(1);
  });

  test('a --base-path that is not a context path, or a missing value, exits 2', async () => {
    const bad = await cli('check', '--text', '.*/x', '-X', 'GET', '--url', '/x', '--base-path', 'jira/');
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err).toMatch(/basePath must be '' or a context path/);
    const missing = await cli('check', '--text', '.*/x', '-X', 'GET', '--url', '/x', '--base-path');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/argument missing/);
  });

  test('the help lists --case-insensitive and --base-path, not --case-sensitive', async () => {
    const r = await cli('check', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--case-insensitive/);
    expect(r.out).toMatch(/--base-path <path>/);
    expect(r.out).not.toMatch(/--case-sensitive/);
  });

  test('usage errors exit 2: both or neither rule source, bad JSON body, missing option', async () => {
    expect((await cli('check', '--method', 'GET', '--url', '/x')).code).toBe(2);
    expect((await cli('check', '--text', '/x', '--rules', rulesFile, '--method', 'GET', '--url', '/x')).code).toBe(2);
    const bad = await cli('check', '--text', '/x', '--method', 'GET', '--url', '/x', '--body', '{nope');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/not JSON/);
    expect((await cli('check', '--text', '/x', '--url', '/x')).code).toBe(2);
  });
});

describe('usage: --version, methods, missing files, fixture files, schema errors', () => {
  test('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag);
      expect(r).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    }
  });

  test('an unknown method is a usage error, exit 2; known ones in any case', async () => {
    const r = await cli('check', '--text', '/x', '-X', 'FROB', '--url', '/x');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown method "FROB": one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS/);
    expect((await cli('check', '--text', '[POST]/x', '-X', 'post', '--url', '/x')).code).toBe(0);
  });

  test('a missing file is one line and exit 2, for check, lint and test', async () => {
    const missing = join(dir, 'no-such-file.txt');
    for (const argv of [['check', '--rules', missing, '-X', 'GET', '--url', '/x'], ['lint', missing], ['test', missing]]) {
      const r = await cli(...argv);
      expect([argv[0], r.code, r.err]).toEqual([argv[0], 2, `tokenfence: cannot read ${missing}: no such file\n`]);
    }
  });

  test('test takes a fixture file as well as a folder', async () => {
    const file = join(freshFolder(), 'one.json');
    writeFileSync(file, JSON.stringify({ rules: ['[GET]/x'], cases: [{ name: 'get', request: { method: 'GET', url: '/x' }, expect: { allowed: true, line: 1 } }] }));
    expect(await cli('test', file)).toMatchObject({ code: 0, out: '1 passed, 0 failed\n' });
  });

  test('schema errors name the property at fault', async () => {
    const file = join(freshFolder(), 'bad.json');
    writeFileSync(file, JSON.stringify({ rules: ['/x'], cases: [{ name: 'c', request: { method: 'GET', url: '/x' }, expect: { allowed: true }, expct: 1 }] }));
    const r = await cli('test', file);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\/cases\/0: unknown property "expct"/);
  });
});

describe('tokenfence lint', () => {
  test('errors and warnings as file:line:column error|warning code message; exit 1 on errors', async () => {
    const file = join(dir, 'lint.txt');
    writeFileSync(file, 'rest/api/.*\n[FOO]/x\n');
    const r = await cli('lint', file);
    expect(r.code).toBe(1);
    expect(r.out.trim().split('\n')).toEqual([
      `${file}:1:1 warning unmatchable_url the URL regex cannot match a path: paths start with \`/\`; write \`/rest/api/.*\` or \`.*/rest/api/.*\``,
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:2 error unknown_method `)),
    ]);
    expect(r.err).toBe('1 error, 1 warning\n');
  });

  test('warnings alone exit 0', async () => {
    const file = join(dir, 'warn.txt');
    writeFileSync(file, '.*/rest/x\n');
    expect((await cli('lint', file)).code).toBe(0);
  });
});

describe('tokenfence test', () => {
  test('prints N passed, N failed and exits 1 on failure', async () => {
    const fixtures = freshFolder();
    writeFileSync(join(fixtures, 'a.json'), JSON.stringify({ rules: '[GET]/x', cases: [
      { name: 'ok', request: { method: 'GET', url: '/x' }, expect: { allowed: true, line: 1 } },
      { name: 'wrong', request: { method: 'POST', url: '/x' }, expect: { allowed: true } },
    ] }));
    const r = await cli('test', fixtures);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL .*a\.json › wrong\n {2}expected ALLOWED, got DENIED/);
    expect(r.out).toMatch(/1 passed, 1 failed\n$/);
  });

  test('exit 0 when every case passes', async () => {
    const fixtures = freshFolder();
    writeFileSync(join(fixtures, 'a.json'), JSON.stringify({ rules: '/x', cases: [{ name: 'ok', request: { method: 'GET', url: '/x' }, expect: { allowed: true, line: 1 } }] }));
    const r = await cli('test', fixtures);
    expect(r).toMatchObject({ code: 0, out: '1 passed, 0 failed\n' });
  });
});
