// The benign corpus (issue 12, "Refuse only what can be slow"): public real-world regexes, each labelled
// safe / vulnerable by the recheck ReDoS checker and classified as URL-style (matched against a path,
// 8 KiB cap) or value-style (a QueryParam / JsonData value, 4 KiB cap). The single source is
// bench/data/benign-regexes.json, which bench/false-refusals.mjs reads too; its `sources`, `labeller`,
// `line`, `before` and `filters` fields say exactly how it was built. The groups:
//   - validator@13.15.35, lib/*.js: every regex literal and static `new RegExp('…')`, and the regexes the
//     modules build when loaded (value-style).
//   - ua-parser-js@2.0.10, src/main/ua-parser.js, src/extensions, src/helpers, src/*-detection: every regex
//     literal (value-style; full-matched as rules are, not searched as ua-parser-js does).
//   - path-to-regexp@0.1.12 (Express 4), @6.3.0 and @8.4.2 (Express 5) outputs (URL-style) for the routes of
//     @octokit/plugin-rest-endpoint-methods@18.0.0 dist-src/generated/endpoints.js (GitHub REST API) and
//     stripe@23.2.0 cjs/resources/*.js (Stripe API), and for the route strings of path-to-regexp's own test
//     suites (pillarjs/path-to-regexp v0.1.12 test.js, v6.3.0 src/index.spec.ts, v8.4.2 src/cases.spec.ts).
//   - regexlib.com, as copied in NicolaasWeideman/RegexStaticAnalysis tests/regexlib-manual-processed.txt
//     (commit 960dba7, the RXXR2 regexlib set; value-style, URL-style when the regex starts with a path
//     separator).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Population = 'url' | 'value';

export interface BenignRegex {
  readonly kind: Population;
  /** The regex as its source has it. */
  readonly source: string;
  /** Its flags there (`i`, `g`; the vetting assumes `i` anyway, and a full match makes `g` moot). */
  readonly flags?: string;
  /** The restriction line it is tried as, when that is not `source` itself (see the JSON's `line`). */
  readonly line?: string;
  /** recheck's verdict on `^(?:source)$` with the `s` and `i` flags. */
  readonly recheck: 'safe' | 'vulnerable' | 'unknown';
  /** recheck's complexity for a vulnerable regex (`polynomial:2`, `exponential`). */
  readonly complexity?: string;
  /** parseRestrictions' verdict before the refinements of issue 12. */
  readonly before: 'accepted' | 'refused';
  readonly group: string;
  /** package@version and file (or route) it came from. */
  readonly from: string;
}

interface Corpus {
  readonly sources: readonly { group: string; population: string; from: string }[];
  readonly regexes: readonly BenignRegex[];
}

const corpus = JSON.parse(readFileSync(join(__dirname, '../../../bench/data/benign-regexes.json'), 'utf8')) as Corpus;

export const SOURCES = corpus.sources;
export const BENIGN: readonly BenignRegex[] = corpus.regexes;

/** The restriction line a corpus regex is tried as. */
export const ruleLine = (r: BenignRegex): string => r.line ?? r.source;
/** The cap its population is vetted at (SPEC §3: 8 KiB paths, 4 KiB values). */
export const capOf = (r: BenignRegex): number => (r.kind === 'url' ? 8192 : 4096);
