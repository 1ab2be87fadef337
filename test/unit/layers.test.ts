// The layout of STYLE §1 and SPEC §1, checked on the sources: each layer imports only from layers below it
// (internal → rules → audit → tokens → http → cli), and http keeps one concern per folder.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(__dirname, '..', '..', 'src');
const LAYERS = ['internal', 'rules', 'audit', 'tokens', 'http', 'cli'] as const;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of a file (static, type-only and `require`), as a path below src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|require\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => relative(src, resolve(dirname(file), spec)));
}

const layerOf = (path: string): number => LAYERS.indexOf(path.split('/')[0] as (typeof LAYERS)[number]);

describe('source layout', () => {
  const files = sources(src).map((f) => relative(src, f));

  test('every source file lies in a layer folder, except the public index', () => {
    expect(files.filter((f) => f !== 'index.ts' && layerOf(f) < 0)).toEqual([]);
  });

  test('no layer imports from a layer above it (the CLI uses the public index)', () => {
    const violations: string[] = [];
    for (const file of files) {
      if (file === 'index.ts') continue;
      for (const target of importsOf(join(src, file))) {
        if (file.startsWith('cli/') && target === 'index.js') continue;
        if (layerOf(target) > layerOf(file)) violations.push(`${file} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test('http has one folder per concern, and only shared files beside them', () => {
    const top = files.filter((f) => f.startsWith('http/') && f.split('/').length === 2);
    expect(top.sort()).toEqual(['http/errors.ts', 'http/request-event.ts']);
    expect(files).toEqual(
      expect.arrayContaining(['http/guard/index.ts', 'http/guard/steps.ts', 'http/guard/credentials.ts', 'http/guard/body.ts', 'http/guard/scope.ts', 'http/guard/rate-limit.ts', 'http/session/index.ts', 'http/xsrf/index.ts']),
    );
  });
});
