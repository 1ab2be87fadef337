import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkExpectation, loadFixtureFile, runFixtureDir, runFixtureFile, type FixtureFile } from '../../../src/cli/fixtures.js';
import { evaluateRestrictions, parseRestrictions } from '../../../src/index.js';

const file = { rules: ['# c', '[GET]/x'], cases: [
  { name: 'allowed', request: { method: 'GET', url: '/x' }, expect: { allowed: true, line: 2 } },
  { name: 'wrong line', request: { method: 'GET', url: '/x' }, expect: { allowed: true, line: 1 } },
  { name: 'denied', request: { method: 'POST', url: '/x' }, expect: { allowed: false, reason: 'no_rule_matched' as const } },
] };

describe('fixture files', () => {
  test('runFixtureFile passes matching cases and fails others with the explanation', () => {
    const results = runFixtureFile(file, 'f.json');
    expect(results.map((r) => r.passed)).toEqual([true, false, true]);
    expect(results[1]!.problem).toMatch(/expected line 1, got 2[\s\S]*allowed by line 2/);
  });

  test('rules that do not parse fail every case', () => {
    const results = runFixtureFile({ rules: '[FOO]/x', cases: file.cases }, 'bad.json');
    expect(results.every((r) => !r.passed && /unknown method/.test(r.problem!))).toBe(true);
  });

  test('checkExpectation compares allowed, line, reason and explanation', () => {
    const decision = evaluateRestrictions(parseRestrictions('/x'), { method: 'GET', url: '/y' });
    expect(checkExpectation(decision, { allowed: false, reason: 'no_rule_matched', explanationIncludes: 'does not match' })).toBeNull();
    expect(checkExpectation(decision, { allowed: false, reason: 'ambiguous_path' })).toMatch(/expected reason ambiguous_path/);
    expect(checkExpectation(decision, { allowed: false, explanationIncludes: 'nope' })).toMatch(/does not include/);
  });

  test('the schema rejects malformed files with the file name and the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-fixtures-'));
    try {
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ rules: '/x', cases: [{ name: 'n', request: { url: '/x' }, expect: { allowed: 'yes' } }] }));
      expect(() => loadFixtureFile(join(dir, 'bad.json'))).toThrow(/bad\.json: not a fixture file: .*method/);
      writeFileSync(join(dir, 'good.json'), JSON.stringify(file));
      const results = runFixtureDir(dir);
      expect(results.filter((r) => r.passed)).toHaveLength(2);
      expect(results.find((r) => r.name === '(file)')!.problem).toMatch(/allowed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-fixture-options-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, options: unknown): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({ rules: '/x', options, cases: [{ name: 'n', request: { method: 'GET', url: '/x' }, expect: { allowed: true } }] }));
      return path;
    };

    test('caseSensitive is no longer an option (rules match case-sensitively by default)', () => {
      expect(() => loadFixtureFile(write('case-sensitive.json', { caseSensitive: true }))).toThrow(/case-sensitive\.json: not a fixture file: \/options: unknown property "caseSensitive"/);
      expect(() => loadFixtureFile(write('case-sensitive-false.json', { caseSensitive: false }))).toThrow(/not a fixture file/);
    });

    test('caseInsensitive, strict and basePath are accepted', () => {
      expect(loadFixtureFile(write('all.json', { caseInsensitive: true, strict: true, basePath: '/jira' })).options).toEqual({ caseInsensitive: true, strict: true, basePath: '/jira' });
      expect(loadFixtureFile(write('nested.json', { basePath: '/a/b' })).options).toEqual({ basePath: '/a/b' });
      expect(loadFixtureFile(write('empty.json', { basePath: '' })).options).toEqual({ basePath: '' });
    });

    test.each([['jira'], ['/jira/'], ['/'], ['//jira'], ['/ji ra']])('basePath %j is rejected', (basePath) => {
      expect(() => loadFixtureFile(write('bad-base.json', { basePath }))).toThrow(/\/options\/basePath must match pattern/);
    });

    test.each([[{ caseInsensitive: 'yes' }], [{ strict: 1 }], [{ basePath: 7 }]])('%j has the wrong type', (options) => {
      expect(() => loadFixtureFile(write('bad-type.json', options))).toThrow(/\/options\/\w+ must be/);
    });
  });

  test('runFixtureFile evaluates with the file options: case-sensitive by default, caseInsensitive, basePath', () => {
    const cases = [
      { name: 'lower-case key', request: { method: 'GET', url: '/rest/api/2/issue/jra-1' }, expect: { allowed: true, line: 1 } },
      { name: 'under /jira', request: { method: 'GET', url: '/jira/rest/api/2/filter' }, expect: { allowed: true, line: 2 } },
    ];
    const rules = ['/rest/api/2/issue/JRA-\\d+', '.*/rest/api/2/filter'];
    const passed = (options?: FixtureFile['options']) => runFixtureFile({ rules, options, cases }, 'o.json').map((r) => r.passed);
    expect(passed()).toEqual([false, false]);
    expect(runFixtureFile({ rules, cases }, 'o.json')[0]!.problem).toMatch(/it would match ignoring case/);
    expect(runFixtureFile({ rules, cases }, 'o.json')[1]!.problem).toMatch(/its leading wildcard stands for the context path "" only/);
    expect(passed({ caseInsensitive: true })).toEqual([true, false]);
    expect(passed({ basePath: '/jira' })).toEqual([false, true]);
    expect(passed({ caseInsensitive: true, basePath: '/jira' })).toEqual([true, true]);
  });
});
