// Runs every policy fixture case in fixtures/ as its own test (the CLI runs the same cases: `tokenfence test fixtures`).
import { join } from 'node:path';
import { findFixtureFiles, loadFixtureFile, runFixtureFile } from '../../src/cli/fixtures.js';

const dir = join(__dirname, '..', '..', 'fixtures');
const files = findFixtureFiles(dir);

test('the corpus holds at least 150 cases', () => {
  const count = files.reduce((n, f) => n + loadFixtureFile(f).cases.length, 0);
  expect(count).toBeGreaterThanOrEqual(150);
});

describe.each(files.map((f) => [f.slice(dir.length + 1), f]))('%s', (label, path) => {
  const file = loadFixtureFile(path);
  const results = runFixtureFile(file, label);
  test.each(results.map((r) => [r.name, r]))('%s', (_, result) => {
    if (!result.passed) throw new Error(result.problem);
  });
});
