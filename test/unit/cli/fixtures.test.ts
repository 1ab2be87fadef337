import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkExpectation, loadFixtureFile, runFixtureDir, runFixtureFile } from '../../../src/cli/fixtures.js';
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
});
