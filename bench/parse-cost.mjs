// Parse cost (issue 12): what parsing a restriction text costs — ordinary 1,000-line sets beside texts crafted
// to make the vetting, the regex compilation (both case modes) and the linear engine's translations as slow
// as they can be within the caps (4 KiB a line, maxBytes 128 KiB a text). A token's restrictions are parsed
// when they are set and again when the token service misses its cache, so this is work a user who may write
// restrictions can make a server do. Each run parses a text whose regexes are new (a salt in every line), so
// no verdict or compiled regex is reused; the median and the slowest of RUNS runs are given, and the first
// case-insensitive evaluation after a parse (which compiled nothing before this release's parse-time `i`
// compilation) is timed on the crafted URL texts. Needs the build.
//
//   node bench/parse-cost.mjs
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { parseRestrictions, evaluateRestrictions, RestrictionSyntaxError } = require('../dist/cjs/index.js');

const RUNS = 5;
const MAX_BYTES = 131_072;

/** Lines from `line(i, salt)` until the text would pass `maxBytes` (or `count` lines). */
function fill(line, salt, { count = Infinity, maxBytes = MAX_BYTES } = {}) {
  const lines = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const next = line(i, salt);
    bytes += Buffer.byteLength(next) + 1;
    if (bytes > maxBytes) break;
    lines.push(next);
  }
  return lines.join('\n');
}

export const TEXTS = [
  { name: 'ordinary: 1,000 × [GET]/rest/api/2/search[QueryParam::jql==project = P<i>]', text: (salt) => fill((i) => `[GET]/rest/api/2/search${salt}[QueryParam::jql==project = P${i}]`, salt, { count: 1000 }) },
  { name: 'ordinary: 1,000 × [post].*/rest/api/2/issue/KANBAN-<i>/comment.*[JsonData::visibility.type==role]', text: (salt) => fill((i) => `[post].*/rest/api/2/issue/KANBAN-${i}${salt}/comment.*[JsonData::visibility.type==role]`, salt, { count: 1000 }) },
  { name: 'ordinary: 1,000 × [GET,POST]/rest/api/2/issue/[A-Z]+-\\d+/x<i>[QueryParam::expand==(names|schema|v<i>)]', text: (salt) => fill((i) => `[GET,POST]/rest/api/2/issue/[A-Z]+-\\d+/x${i}${salt}[QueryParam::expand==(names|schema|v${i})]`, salt, { count: 1000 }) },
  { name: 'crafted, 128 KiB: /….…(4,000 dots)<i>', url: true, text: (salt) => fill((i) => `/${'.'.repeat(4000)}${salt}${i}`, salt) },
  { name: 'crafted, 128 KiB: .*/(.)(.)…(1,300 groups)<i>', url: true, text: (salt) => fill((i) => `.*/${'(.)'.repeat(1300)}${salt}${i}`, salt) },
  { name: 'crafted, 128 KiB: /z<i>[a-z0-9_]…(400 classes)', url: true, text: (salt) => fill((i) => `/z${salt}${i}${'[a-z0-9_]'.repeat(400)}`, salt) },
  { name: 'crafted, 128 KiB: /z<i>(?:a0|a1|…|a399)', url: true, text: (salt) => fill((i) => `/z${salt}${i}(?:${Array.from({ length: 400 }, (_, k) => `a${k}`).join('|')})`, salt) },
  { name: 'crafted, 128 KiB: /\\b.\\b.…(1,360 word boundaries)<i> (refused: more than 64 a regex)', url: true, text: (salt) => fill((i) => `/${'\\b.'.repeat(1360)}${salt}${i}`, salt) },
  { name: 'crafted, 128 KiB: [QueryParam::q<i>==\\b.\\b.…(1,340)] (refused by both engines)', text: (salt) => fill((i) => `/v${i}[QueryParam::q${i}==${'\\b.'.repeat(1340)}${salt}${i}]`, salt) },
  {
    name: 'crafted: linear engine, 1,000 lines of /v<i>[QueryParam::q<i>==(a+)+b<i>] (refused once the set\'s translation work is used up)',
    text: (salt) => fill((i) => `/v${i}[QueryParam::q${i}==(a+)+b${salt}${i}]`, salt, { count: 1000 }),
  },
  {
    name: 'crafted: linear engine, lines of (?:[a-z]{1,5}x?){1,50}[0-9]{100}y<i> (each refused at the work limit)',
    text: (salt) => fill((i) => `/v${i}[QueryParam::q${i}==(?:[a-z]{1,5}x?){1,50}[0-9]{100}y${salt}${i}]`, salt, { count: 1000 }),
  },
];

let saltCounter = 0;

/** @returns {Promise<{ name: string, bytes: number, lines: number, accepted: boolean | string, medianMs: number, maxMs: number, firstInsensitiveMs: number | null }[]>} */
export async function parseCost({ log = () => {} } = {}) {
  const rows = [];
  for (const t of TEXTS) {
    const times = [];
    const firsts = [];
    let accepted;
    let bytes = 0;
    let lines = 0;
    for (let run = 0; run < RUNS; run++) {
      const text = t.text(`s${++saltCounter}`);
      bytes = Buffer.byteLength(text);
      lines = text.split('\n').length;
      const t0 = performance.now();
      let set;
      try {
        set = parseRestrictions(text);
        accepted = true;
      } catch (err) {
        if (!(err instanceof RestrictionSyntaxError)) throw err;
        accepted = `refused at line ${err.errors[0].line}: ${err.errors[0].code}`;
      }
      times.push(performance.now() - t0);
      if (set && t.url) {
        const t1 = performance.now();
        evaluateRestrictions(set, { method: 'GET', url: '/nothing/here' }, { caseInsensitive: true });
        firsts.push(performance.now() - t1);
      }
    }
    times.sort((a, b) => a - b);
    firsts.sort((a, b) => a - b);
    const row = {
      name: t.name,
      bytes,
      lines,
      accepted,
      medianMs: Number(times[times.length >> 1].toFixed(1)),
      maxMs: Number(times[times.length - 1].toFixed(1)),
      firstInsensitiveMs: firsts.length > 0 ? Number(firsts[firsts.length >> 1].toFixed(2)) : null,
    };
    log(`parse cost: ${row.name}: ${row.medianMs} ms`);
    rows.push(row);
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await parseCost()) console.log(JSON.stringify(r));
}
