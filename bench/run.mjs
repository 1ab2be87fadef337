#!/usr/bin/env node
// Runs benchmark sections: `node bench/run.mjs` runs all of them, `node bench/run.mjs rules` one (or several).
// Each section prints a Markdown table to stdout and writes it to bench/results/<section>.md.
// Progress goes to stderr. `--check` makes a missed goal exit with status 1 (by default goals only report).
//
// Add a section: one line in SECTIONS. A section module exports
//   async run({ log }) → { markdown: string, goals?: { text, value, pass }[] }
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sink } from './harness.mjs';

const SECTIONS = {
  rules: './rules.mjs',
  tokens: './tokens.mjs',
  http: './http.mjs',
  import: './import.mjs',
  session: './session.mjs',
};

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const check = args.includes('--check');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !Object.hasOwn(SECTIONS, n));
if (unknown.length > 0) {
  console.error(`unknown section(s): ${unknown.join(', ')}; available: ${Object.keys(SECTIONS).join(', ')}`);
  process.exit(2);
}
const selected = names.length > 0 ? names : Object.keys(SECTIONS);

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });

const log = (message) => process.stderr.write(`${message}\n`);
let missed = 0;
for (const name of selected) {
  const started = Date.now();
  const section = await import(pathToFileURL(join(here, SECTIONS[name])).href);
  const { markdown, goals = [] } = await section.run({ log });
  const text = `${markdown.trimEnd()}\n`;
  process.stdout.write(`${text}\n`);
  writeFileSync(join(resultsDir, `${name}.md`), text);
  missed += goals.filter((g) => !g.pass).length;
  log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s, written to bench/results/${name}.md`);
}
log(`(sink ${sink()})`);
if (missed > 0) {
  log(`${missed} goal(s) missed`);
  if (check) process.exitCode = 1;
}
