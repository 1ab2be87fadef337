// Runs every policy fixture case in fixtures/ as its own test (the CLI runs the same cases: `tokenfence test fixtures`).
import { join } from 'node:path';
import { findFixtureFiles, loadFixtureFile, runFixtureFile, type CaseResult, type FixtureFile } from '../../src/cli/fixtures.js';

const dir = join(__dirname, '..', '..', 'fixtures');
const files = findFixtureFiles(dir);

/** A file that does not load fails as one case of its own, instead of failing the whole suite. */
function load(path: string): FixtureFile | Error {
  try {
    return loadFixtureFile(path);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

const loaded = files.map((path) => [path.slice(dir.length + 1), load(path)] as const);

test('the corpus holds at least 150 cases', () => {
  const count = loaded.reduce((n, [, f]) => n + (f instanceof Error ? 0 : f.cases.length), 0);
  expect(count).toBeGreaterThanOrEqual(150);
});

test('every fixture file loads, has a description and unique case names', () => {
  for (const [label, f] of loaded) {
    if (f instanceof Error) throw f;
    expect([label, typeof f.description === 'string' && f.description.length > 0]).toEqual([label, true]);
    const names = f.cases.map((c) => c.name);
    expect([label, names.filter((n, i) => names.indexOf(n) !== i)]).toEqual([label, []]);
  }
});

describe.each(loaded.map(([label, f]) => [label, f] as const))('%s', (label, f) => {
  const results: CaseResult[] =
    f instanceof Error ? [{ file: label, name: '(file)', passed: false, problem: f.message }] : runFixtureFile(f, label);
  test.each(results.map((r) => [r.name, r] as const))('%s', (_, result) => {
    if (!result.passed) throw new Error(result.problem);
  });
});
