// Section "import": the cost of loading the package in-process — require('tokenfence') and
// await import('tokenfence') — side by side with require('express') and await import('express').
//
// How it works:
//   1. Every sample is a fresh child Node process (process.execPath -e '…', or --input-type=module -e '…'
//      for ESM) started with cwd = the repo root, so nothing is cached in-process. The child times just the
//      require()/import() with process.hrtime.bigint() and prints the ms as JSON; the CJS children also
//      list the files that require.cache gained, from which the third-party packages (distinct
//      node_modules/<pkg>) are counted. ESM children cannot list what they loaded, so they report time only.
//   2. 'tokenfence' resolves by package self-reference (the package's own name through its "exports", as
//      seen from inside the package). A first check confirms it resolves to this tree's dist/cjs/index.js
//      and dist/esm/index.js; if not, the dist paths are used instead and the Markdown says so.
//   3. One discarded warm-up round (file-system cache), then rounds of one sample per row, round-robin with
//      the starting row rotated each round, so machine noise hits all rows alike. The loop stops after
//      BENCH_IMPORT_ROUNDS rounds (default 21) or BENCH_IMPORT_MAX_MS ms (default 60,000), whichever is
//      first; a round always completes, so every row has the same number of samples.
//   4. Report median, p25–p75 and min per row, and each tokenfence row's median over express's of the
//      same kind (CJS vs CJS, ESM vs ESM). Goal: tokenfence no slower than express for each kind.
//
// Needs a build (npm run build) and express installed (a devDependency).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmtRatio, fmtUs, markdownTable, summarize } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const DIST_CJS = join(root, 'dist', 'cjs', 'index.js');
const DIST_ESM = join(root, 'dist', 'esm', 'index.js');
const ROUNDS = Number(process.env.BENCH_IMPORT_ROUNDS ?? 21);
const MAX_MS = Number(process.env.BENCH_IMPORT_MAX_MS ?? 60_000);

/** Runs `node [flags] -e code` in the repo root and parses the last stdout line as JSON. */
function child(code, { esm = false } = {}) {
  const args = [...(esm ? ['--input-type=module'] : []), '-e', code];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`import bench: child failed (${err.message.split('\n')[0]})\n${stderr}`));
      const line = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`import bench: child printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Child code for a timed require(); also lists the files require.cache gained. */
function cjsCode(spec) {
  return `
const before = new Set(Object.keys(require.cache));
const t0 = process.hrtime.bigint();
const m = require(${JSON.stringify(spec)});
const t1 = process.hrtime.bigint();
const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
process.stdout.write('\\n' + JSON.stringify({ ms: Number(t1 - t0) / 1e6, exports: Object.keys(m).length, loaded }) + '\\n');
`;
}

/** Child code for a timed import() (time only). */
function esmCode(spec) {
  return `
const t0 = process.hrtime.bigint();
const m = await import(${JSON.stringify(spec)});
const t1 = process.hrtime.bigint();
process.stdout.write('\\n' + JSON.stringify({ ms: Number(t1 - t0) / 1e6, exports: Object.keys(m).length }) + '\\n');
`;
}

/** The package a file belongs to: the name after its last node_modules/ (scoped names keep the scope). */
function packageOf(file) {
  const marker = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(marker);
  if (at < 0) return null;
  const parts = file.slice(at + marker.length).split(sep);
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Confirms 'tokenfence' resolves by self-reference to this tree's dist; returns the specifiers to use. */
async function resolveSpecifiers() {
  const cjs = await child(`process.stdout.write(JSON.stringify(require.resolve('tokenfence')))`).catch(() => null);
  const esm = await child(`process.stdout.write(JSON.stringify(import.meta.resolve('tokenfence')))`, { esm: true }).catch(() => null);
  const cjsOk = cjs === DIST_CJS;
  const esmOk = esm === pathToFileURL(DIST_ESM).href;
  return {
    cjs: cjsOk ? 'tokenfence' : DIST_CJS,
    esm: esmOk ? 'tokenfence' : pathToFileURL(DIST_ESM).href,
    note:
      cjsOk && esmOk
        ? "'tokenfence' resolves by package self-reference (child cwd = repo root) to dist/cjs/index.js and dist/esm/index.js."
        : `Self-reference did not resolve as expected (CJS → ${cjs ?? 'error'}, ESM → ${esm ?? 'error'}); ` +
          `${cjsOk ? '' : 'the CJS row loads dist/cjs/index.js by path'}${!cjsOk && !esmOk ? ' and ' : ''}` +
          `${esmOk ? '' : 'the ESM row loads dist/esm/index.js by file URL'} instead.`,
  };
}

export async function run({ log = () => {} } = {}) {
  for (const f of [DIST_CJS, DIST_ESM]) if (!existsSync(f)) throw new Error(`import bench: ${f} is missing; run npm run build`);
  const specs = await resolveSpecifiers();
  log(`import: ${specs.note}`);

  const rows = [
    { key: 'tf-cjs', label: "`require('tokenfence')`", kind: 'cjs', code: cjsCode(specs.cjs) },
    { key: 'tf-esm', label: "`await import('tokenfence')`", kind: 'esm', code: esmCode(specs.esm) },
    { key: 'ex-cjs', label: "`require('express')`", kind: 'cjs', code: cjsCode('express') },
    { key: 'ex-esm', label: "`await import('express')`", kind: 'esm', code: esmCode('express') },
  ];
  const sample = (r) => child(r.code, { esm: r.kind === 'esm' });

  log('import: warm-up round');
  for (const r of rows) {
    const out = await sample(r);
    if (!(out.exports > 0)) throw new Error(`import bench: ${r.label} gave a module with no exports`);
    if (r.kind === 'cjs') r.loaded = out.loaded; // the module list is the same every time; keep one
  }

  const samples = new Map(rows.map((r) => [r.key, []]));
  const start = Date.now();
  let rounds = 0;
  while (rounds < ROUNDS && Date.now() - start < MAX_MS) {
    for (let k = 0; k < rows.length; k++) {
      const r = rows[(rounds + k) % rows.length];
      samples.get(r.key).push((await sample(r)).ms);
    }
    rounds++;
    if (rounds % 5 === 0) log(`import: ${rounds} rounds, ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }
  const stats = new Map(rows.map((r) => [r.key, summarize(samples.get(r.key))]));
  const express = { cjs: stats.get('ex-cjs'), esm: stats.get('ex-esm') };

  const packagesOf = (r) => [...new Set(r.loaded.map(packageOf).filter(Boolean))].sort();
  const ownFiles = (r) => r.loaded.filter((f) => !packageOf(f)).length;
  const table = markdownTable(
    ['what', 'median ms', 'p25–p75 ms', 'min ms', 'vs express (same kind)', 'files / packages loaded'],
    rows.map((r) => {
      const s = stats.get(r.key);
      const vs = r.key.startsWith('tf') ? fmtRatio(s.median / express[r.kind].median) : '1.00× (baseline)';
      const loaded = r.loaded ? `${r.loaded.length} / ${packagesOf(r).length}` : 'n/a (ESM)';
      // fmtUs only picks a precision; the values here are ms.
      return [r.label, fmtUs(s.median), `${fmtUs(s.p25)}–${fmtUs(s.p75)}`, fmtUs(s.min), vs, loaded];
    }),
    ['l', 'r', 'r', 'r', 'r', 'r'],
  );

  const goals = ['cjs', 'esm'].map((kind) => {
    const tf = stats.get(`tf-${kind}`);
    const ex = express[kind];
    const what = kind === 'cjs' ? "require('%s')" : "await import('%s')";
    return {
      text: `${what.replace('%s', 'tokenfence')} no slower than ${what.replace('%s', 'express')} (median)`,
      value: `${fmtUs(tf.median)} ms vs ${fmtUs(ex.median)} ms (${fmtRatio(tf.median / ex.median)})`,
      pass: tf.median <= ex.median,
    };
  });

  const tfCjs = rows[0];
  const tfPackages = packagesOf(tfCjs);
  const markdown = [
    '## Import cost',
    '',
    `Time to load the package in a fresh Node process: each sample is a new child (\`node -e\`, or`,
    '`--input-type=module -e` for ESM) that times only the `require()`/`import()` with `process.hrtime.bigint()`.',
    `The four rows are interleaved round-robin (${rounds} rounds after one discarded warm-up round, bounded by`,
    `${ROUNDS} rounds and ${MAX_MS / 1000} s). ${specs.note} Express ${expressVersion()} is the yardstick.`,
    '',
    table,
    '',
    '**Goals**',
    '',
    ...goals.map((g) => `- ${g.pass ? 'PASS' : 'FAIL'} — ${g.text}: ${g.value}`),
    '',
    `**Third-party packages loaded by \`require('tokenfence')\`** (${tfPackages.length}; ${ownFiles(tfCjs)} of the ${tfCjs.loaded.length} files are tokenfence's own):`,
    '',
    tfPackages.length > 0 ? tfPackages.map((p) => `\`${p}\``).join(', ') : '(none)',
    '',
    `Node ${process.version}, ${process.platform}/${process.arch}.`,
  ].join('\n');
  return { markdown, goals };
}

function expressVersion() {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', 'express', 'package.json'), 'utf8')).version;
  } catch {
    return '(version unknown)';
  }
}
