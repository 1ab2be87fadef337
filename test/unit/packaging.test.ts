// Packaging (issue 13): `npm pack` on a clean clone builds first (prepack), and the tarball carries the
// build, the README and the LICENSE that package.json's "license" names.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/cjs/index.js', 'dist/esm/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/cli/bin.js', 'dist/ui/index.html', 'dist/ui/app.js', 'dist/ui/app.css', 'dist/ui/favicon.svg']));
  expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/'))).toEqual([]);
});

test('the CLI reports the version of package.json', () => {
  const { VERSION } = require('../../src/cli/version.js') as { VERSION: string };
  expect(VERSION).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
});

describe('the packed tarball passes publint --strict and arethetypeswrong', () => {
  let tarball: string;
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'tf-pack-'));
    // The test run built dist already; --ignore-scripts skips the prepack build.
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', folder], { cwd: root, encoding: 'utf8' })) as { filename: string }[];
    tarball = join(folder, packed!.filename);
  }, 60_000);
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('publint --strict: no errors, warnings or suggestions', () => {
    const out = execFileSync(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), '--strict', tarball], { cwd: root, encoding: 'utf8' });
    expect(out).not.toMatch(/Errors:|Warnings:|Suggestions:/);
  }, 60_000);

  test('attw: every resolution (node10, node16 from CJS and ESM, bundler) resolves the types', () => {
    // attw exits non-zero when it finds a problem; the JSON lists them.
    const out = execFileSync(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--format', 'json'], { cwd: root, encoding: 'utf8' });
    const report = JSON.parse(out) as { analysis: { problems: unknown[] } };
    expect(report.analysis.problems).toEqual([]);
  }, 60_000);
});
