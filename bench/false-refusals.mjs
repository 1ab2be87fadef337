// False refusals of the ReDoS vetting (issue 12): of the public real-world regexes in the benign corpus
// (bench/data/benign-regexes.json) that the recheck ReDoS checker calls safe, how many parseRestrictions
// refuses with unsafe_regex, per population: URL-style (a path, 8 KiB cap) and value-style (a QueryParam
// value, 4 KiB cap). Each regex is tried as the restriction line the corpus gives it (the URL itself, or
// `/x[QueryParam::v==<re>]`). Needs the build (`npm run build`).
//
//   node bench/false-refusals.mjs      prints the row and the refused regexes
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/**
 * @param {{ examples?: number }} [options] how many refused regexes to list per population (default 5)
 * @returns {Promise<Record<'url' | 'value', { total: number, refused: number, rate: number,
 *   refusedBefore: number, rateBefore: number, examples: { source: string, group: string, message: string }[] }>>}
 *   `total` counts the recheck-safe regexes, `refused` those parseRestrictions refuses now, `refusedBefore`
 *   those it refused before the refinements of issue 12 (recorded in the corpus).
 */
export async function falseRefusals({ examples = 5 } = {}) {
  const { parseRestrictions, RestrictionSyntaxError } = require('../dist/cjs/index.js');
  const corpus = JSON.parse(readFileSync(new URL('./data/benign-regexes.json', import.meta.url), 'utf8'));
  const result = {};
  for (const kind of ['url', 'value']) {
    const population = corpus.regexes.filter((r) => r.kind === kind && r.recheck === 'safe');
    const refused = [];
    for (const r of population) {
      try {
        parseRestrictions(r.line ?? r.source);
      } catch (err) {
        if (!(err instanceof RestrictionSyntaxError)) throw err;
        const unsafe = err.errors.filter((e) => e.code === 'unsafe_regex');
        if (unsafe.length === 0) throw new Error(`corpus line ${r.line ?? r.source} is not valid rule syntax: ${err.message}`);
        refused.push({ source: r.source, group: r.group, message: unsafe.map((e) => e.message).join(' / ') });
      }
    }
    const refusedBefore = population.filter((r) => r.before === 'refused').length;
    result[kind] = {
      total: population.length,
      refused: refused.length,
      rate: refused.length / population.length,
      refusedBefore,
      rateBefore: refusedBefore / population.length,
      examples: refused.slice(0, examples),
    };
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await falseRefusals({ examples: Infinity });
  const pct = (x) => `${(100 * x).toFixed(2)} %`;
  for (const [kind, r] of Object.entries(result)) {
    console.log(`${kind}: ${r.refused} of ${r.total} recheck-safe regexes refused (${pct(r.rate)}; before: ${r.refusedBefore}, ${pct(r.rateBefore)})`);
    for (const e of r.examples) console.log(`  ${e.group}: ${e.source}\n    ${e.message}`);
  }
}
