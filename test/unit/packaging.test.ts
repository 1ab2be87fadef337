// Packaging (issue 13): `npm pack` on a clean clone builds first (prepack), and the tarball carries the
// build, the README and the LICENSE that package.json's "license" names.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { license: string; scripts: Record<string, string>; files: string[] };

test('prepack builds, and the tarball lists dist, README and LICENSE', () => {
  expect(pkg.scripts.prepack).toBe('npm run build');
  expect(pkg.license).toBe('MIT');
  expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  // --dry-run lists what would be packed without running prepack again (the test run built already).
  const listing = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as { files: { path: string }[] }[];
  const paths = listing[0]!.files.map((f) => f.path);
  expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/cjs/index.js', 'dist/esm/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/cli/bin.js']));
  expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/'))).toEqual([]);
});

test('the CLI reports the version of package.json', () => {
  const { VERSION } = require('../../src/cli/version.js') as { VERSION: string };
  expect(VERSION).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
});
