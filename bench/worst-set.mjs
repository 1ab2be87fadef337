// Red-team bench: the worst accepted restriction sets found against the contract "no accepted line and no
// accepted set may make one evaluation take over 50 ms" (SPEC §2, §3.3; README "ReDoS safety").
//
//   import { worstSet } from './worst-set.mjs';
//   const { rows, worst, skipped } = await worstSet({ log: console.error });
//
// Every finding is an exported generator (`FINDINGS`, and one named export each) that builds a 1,000-line
// rule text and the request it is slowest on. `worstSet` parses each with the current code: a set that no
// longer parses (because the finding was fixed) is skipped and reported as `accepted: false` with the parse
// error, never a failure of the bench. An accepted set is timed on its request: 2 warm-up runs, then the
// median and p75 of 7 runs (`process.hrtime.bigint()`). For a finding about the *first* evaluation after
// parsing, every run (warm-ups included) gets a freshly parsed set whose regex sources are new (V8 caches
// compiled regexes by source), and only the evaluation is timed.
//
// Findings scale with a knob (request length, regex length, values used): at full scale several take
// minutes per evaluation, so each is measured at the largest power-of-two scale whose single run fits in
// about RUN_TARGET_MS, and the row gives `scale` and `projectedFullMs` (the median times (1/scale)^exponent,
// the growth each generator states) next to the measured `medianMs` — projected to the largest scale whose
// set is still accepted (`acceptedScale`: maxBytes refuses a thousand lines of 4 KiB). The whole bench stays under ~55 s: a
// finding that no longer fits the time left is reported in `skipped`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('../dist/cjs/index.js');
const evaluate = require('../dist/cjs/rules/evaluate.js');
const { parseRestrictions, evaluateRestrictions } = tf;
const decideRequest = tf.decideRequest ?? evaluate.decideRequest;
const needsJsonBody = tf.needsJsonBody ?? evaluate.needsJsonBody;
const { methodBit } = require('../dist/cjs/rules/compile.js');
let vetRegex;
try {
  ({ vetRegex } = require('../dist/cjs/rules/regex-safety.js'));
} catch {
  vetRegex = undefined;
}

/** The caps of SPEC §3.8 and the default rule limit. */
const RULES = 1000;
const PATH_CAP = 8192;
const VALUE_CAP = 4096;
const QUERY_CAP = 8192;
const ARRAY_TEXT_CAP = 8192;

/** Timing protocol. */
const WARMUPS = 2;
const RUNS = 7;
const RUN_TARGET_MS = 400;
const TOTAL_BUDGET_MS = 55_000;

// ---- helpers --------------------------------------------------------------------------------------

/**
 * Pads a set to 1,000 lines with inert rules: `[GET]/f<i>` is a literal-only GET rule, so for the POST
 * requests used here it fails on its method bit before any regex (and the denial's case hint skips it).
 */
function pad(lines) {
  const out = [...lines];
  for (let i = out.length; out.length < RULES; i++) out.push(`[GET]/f${i}`);
  return out;
}

/** A path of `length` characters that no regex here matches: `/aaa…ab`. */
const adversarialPath = (length) => `/${'a'.repeat(Math.max(1, length - 2))}b`;

const json = 'application/json';

/** Evaluates like a caller that reads why a request was denied. */
function evaluateAndExplain(set, request, options) {
  const decision = evaluateRestrictions(set, request, options);
  if (!decision.allowed) void decision.explanation;
  return decision;
}

/** decideRequest as the guard calls it, reading the explanation of a denial as the guard does. */
function decideAndExplain(set, methods, targets, contentType, body, options) {
  const verdict = decideRequest(set, methods, targets, contentType, body, options);
  if (typeof verdict !== 'number') void verdict.decision.explanation;
  return verdict;
}

// ---- findings -------------------------------------------------------------------------------------
//
// Each generator: (scale in (0, 1], fresh: a number that makes every regex source new) → { lines, run,
// vetted }. `run(set)` is the timed evaluation; `vetted` lists the costly regexes as [source, maxInput,
// weight] for the row's vetted costs. Variants are tried in order; the first whose set parses is measured.

/**
 * F1 (worst, every evaluation). A `^` that is not at the start of the regex (or a `$` inside a lookahead)
 * is dropped by the cost analysis, so the repetition before it looks like "the free end of the match"
 * (a trailing `.+` is charged n, not n²). In V8 it is a test that always fails here, so `[^b]+.+^`
 * backtracks through every split of the rest of the path: n²/2 steps. Bounded repetitions in front
 * (`.{0,16}.{0,16}.{0,4}`: 1,445 start offsets) multiply that, and are charged only ×1,445 on an estimate
 * that is n instead of n². Four such lines fit the set budget (4 × 1.2e7 steps estimated).
 */
export const assertionTail = {
  name: 'assertion-tail: 4 × /.{0,16}.{0,16}.{0,4}[^x]+.+^ (also (?=…$)), POST /a…ab',
  exponent: 2,
  minScale: 1 / 64,
  cause: 'regex-safety expandElement: `^`/`$` become [] (nothing), so the last loop before them is costed as the free end of the match',
  variants: [
    (scale) => {
      const lines = ['b', 'c', 'd', 'e'].map((x) => `/.{0,16}.{0,16}.{0,4}[^${x}]+.+^`);
      return assertionRun(lines, scale);
    },
    (scale) => {
      const lines = ['/.{0,16}.{0,16}.{0,4}(?=[^b]+[^b]+$).*', '/.{0,16}.{0,16}.{0,4}(?=a+a+$).*'];
      return assertionRun(lines, scale);
    },
    (scale) => assertionRun(['.+.+^', '/.+.+^', '(?:/.+.+^)', '/[^b]+.+^'], scale),
    (scale) => assertionRun(['(?=/a+a+$).*', '(?=/[^b]+[^b]+$).*', '/(?=a+a+$).*', '/(?=[^b]+[^b]+$).*'], scale),
  ],
};
function assertionRun(costly, scale) {
  const path = adversarialPath(Math.round(PATH_CAP * scale));
  return {
    lines: pad(costly),
    run: (set) => evaluateAndExplain(set, { method: 'POST', url: path }),
    vetted: costly.map((s) => [s, PATH_CAP, 1]),
  };
}

/**
 * F2 (every evaluation). The same miscosting spread over 1,000 distinct URL regexes, each charged ~2.5e4
 * steps (2.5e7 for the set) but n²/2 each in V8: `(?=/a+a+$).*|/z<i>`. Every rule runs (they share no
 * literal), and the denial's case hint re-runs the first 20 case-insensitively (their cost is "cheap").
 */
export const assertionTailSet = {
  name: 'assertion-tail × 1,000 distinct: .+.+^|/z<i> (also (?=/a+a+$).*|/z<i>)',
  exponent: 2,
  minScale: 1 / 64,
  cause: 'as F1, one regex per line: each is charged ~2e4, runs n²/2',
  variants: [
    (scale) => distinctRun((i) => `.+.+^|/z${i}`, scale),
    (scale) => distinctRun((i) => `(?=/a+a+$).*|/z${i}`, scale),
  ],
};
function distinctRun(line, scale) {
  const lines = Array.from({ length: RULES }, (_, i) => line(i));
  const path = adversarialPath(Math.round(PATH_CAP * scale));
  return { lines, run: (set) => evaluateAndExplain(set, { method: 'POST', url: path }), vetted: [[lines[0], PATH_CAP, 1]] };
}

/**
 * F3 (every evaluation). The same miscosting in a JsonData value regex (4 KiB values): quadratic per start,
 * 2,890 starts from the bounded prefix, charged 2 × 1.2e7.
 */
export const assertionTailJson = {
  name: 'assertion-tail in JsonData: [JsonData::v==.{0,16}.{0,16}.{0,9}[^b]+.+^]',
  exponent: 2,
  minScale: 1 / 32,
  cause: 'as F1, in a value regex (maxInput 4096)',
  variants: [
    (scale) => jsonRun(['.{0,16}.{0,16}.{0,9}[^b]+.+^'], scale),
    (scale) => jsonRun(['.{0,16}.{0,16}.{0,4}(?=[^b]+[^b]+$)'], scale),
    (scale) => jsonRun(['(?=[^b]+[^b]+[^b]+$)'], scale),
    (scale) => jsonRun(['[^b]+.+.+^'], scale),
  ],
};
function jsonRun(patterns, scale) {
  const lines = patterns.map((p) => `[POST]/j[JsonData::v==${p}]`);
  const body = { v: `${'a'.repeat(Math.max(1, Math.round(VALUE_CAP * scale) - 1))}b` };
  return {
    lines: pad(lines),
    run: (set) => evaluateAndExplain(set, { method: 'POST', url: '/j', contentType: json, body }),
    vetted: patterns.map((p) => [p, VALUE_CAP, 2]),
  };
}

/**
 * F4 (every evaluation; only with a vetter that accepts lookbehinds). A lookbehind is costed as if it
 * matched forwards, where its last repetition is the free end; V8 matches it backwards, so that
 * repetition comes first and the `b` it never finds is tested last: n²/2 after `.{8100}`.
 */
export const lookbehind = {
  name: 'lookbehind: /.{0,16}.{0,16}.{K}(?<=b[^b]+[^b]+).*',
  exponent: 2,
  minScale: 1 / 32,
  cause: 'regex-safety costs a lookbehind in source order; V8 runs it right to left',
  variants: [
    (scale) => lookbehindRun((k) => `/.{0,16}.{0,16}.{${k}}(?<=b[^b]+[^b]+).*`, scale),
    (scale) => lookbehindRun((k) => `/.{0,16}.{${k}}(?<=b[^b]+[^b]+).*`, scale),
    (scale) => lookbehindRun((k) => `/.{${k}}(?<=b[^b]+[^b]+).*`, scale),
  ],
};
function lookbehindRun(make, scale) {
  const length = Math.round(PATH_CAP * scale);
  const line = make(Math.max(1, length - 40));
  const path = `/${'a'.repeat(length - 1)}`;
  return { lines: pad([line]), run: (set) => evaluateAndExplain(set, { method: 'POST', url: path }), vetted: [[line, PATH_CAP, 1]] };
}

/**
 * F5 (first evaluation with `{ caseInsensitive: true }`). Parsing compiles and warms each URL regex for
 * the default mode only; the first case-insensitive evaluation compiles all of them with the `i` flag,
 * uncharged. V8's `i` compilation of `.` (with `s`) costs ~70 µs each: a line of 4,082 dots (vetted cost 1)
 * takes ~300 ms to compile, 1,000 of them ~6 minutes.
 */
export const caseInsensitiveCompile = {
  name: 'first evaluation with caseInsensitive: 1,000 × /….…(4,082 dots) (scale: lines × dots)',
  first: true,
  exponent: 2,
  minScale: 1 / 64,
  cause: 'compile.ts urlRegex compiles the `si` regex on first use; compilation is not charged (the vetted cost is 1)',
  variants: [(scale, fresh) => dotsRun(Math.max(1, Math.round(RULES * scale)), scale, fresh, { caseInsensitive: true })],
};
function dotsRun(count, scale, fresh, options) {
  const dots = Math.max(1, Math.round(4082 * scale));
  const lines = [];
  // `(?:v…)` keeps each source new and adds no literal (a literal would let the index skip the rule).
  for (let i = 0; i < count; i++) lines.push(`/${'.'.repeat(dots)}(?:v${fresh}_${i})`);
  const path = '/abc';
  return {
    lines: pad(lines),
    run: (set) => evaluateAndExplain(set, { method: 'POST', url: path }, options),
    vetted: [[lines[0], PATH_CAP, 1]],
  };
}

/**
 * F6 (first evaluation, default mode). A denial's case hint ("it would match ignoring case") compiles the
 * `i` version of up to 20 URL regexes whose vetted cost is small; the cost of compiling is not counted.
 */
export const caseHintCompile = {
  name: 'first denial (default mode): case hint compiles 20 × /….…(4,082 dots) with i',
  first: true,
  exponent: 1,
  minScale: 1 / 128,
  cause: 'evaluate.ts recordFailures: the hint is bounded by vetted steps (1 each), not by compilation',
  variants: [(scale, fresh) => dotsRun(20, scale, fresh, undefined)],
};

/**
 * F7 (first evaluation with a `basePath`). Every URL group is compiled again for a new basePath, even
 * one without a leading wildcard (V8's regexp cache only hides that until the next full GC), and a group
 * with one always gets a new source (`\/jira/…`). `.*\/(.)(.)…` (1,350 groups, 4 KiB) is vetted at 8,192
 * steps and takes ~120–150 ms to compile for the basePath (parsing pays ~20–50 ms): 1,000 lines ~2 minutes.
 */
export const basePathCompile = {
  name: 'first evaluation with basePath: 1,000 × .*/(.)(.)…',
  first: true,
  exponent: 1.5,
  minScale: 1 / 128,
  cause: 'compile.ts urlRegex keys the compiled regex by basePath and compiles on first use, uncharged',
  variants: [
    (scale, fresh) => {
      const units = Math.max(1, Math.round(1350 * scale));
      const lines = Array.from({ length: RULES }, (_, i) => `.*/${'(.)'.repeat(units)}(?:v${fresh}_${i})`);
      return {
        lines,
        run: (set) => evaluateAndExplain(set, { method: 'POST', url: '/jira/abc' }, { basePath: '/jira' }),
        vetted: [[lines[0], PATH_CAP, 1]],
      };
    },
    (scale, fresh) => {
      const units = Math.max(1, Math.round(800 * scale));
      const lines = Array.from({ length: RULES }, (_, i) => `.*/${'(a|b)'.repeat(units)}(?:v${fresh}_${i})`);
      return {
        lines,
        run: (set) => evaluateAndExplain(set, { method: 'POST', url: '/jira/abc' }, { basePath: '/jira' }),
        vetted: [[lines[0], PATH_CAP, 1]],
      };
    },
  ],
};

/**
 * F8 (every evaluation). A QueryParam regex is charged once (×2) however many names it constrains, and
 * a bounded-repetition regex costs the same on a 60-character value as on a 4 KiB one: three such
 * regexes (2 × 7.1e6 each) under 125 names each run 375 times per request.
 */
export const queryNames = {
  name: 'QueryParam: 3 bounded regexes × 125 names (charged once each)',
  exponent: 1,
  minScale: 1 / 16,
  cause: 'parse.ts keys a QueryParam charge by regex only (`q\\0pattern`); compile.ts runs it per (regex, name); cost does not scale with value length',
  variants: [
    (scale) => {
      const regex = (k) => `(?:.{0,16}.{0,16}.{0,16}.{0,16}.{0,16}!|z${k})`;
      const value = 'a'.repeat(60);
      const names = [];
      let query = '';
      for (let i = 0; ; i++) {
        const part = `${query ? '&' : ''}p${i}=${value}`;
        if (query.length + part.length > QUERY_CAP * scale) break;
        query += part;
        names.push(`p${i}`);
      }
      const lines = [];
      for (let k = 0; k < 3; k++) for (const n of names) lines.push(`[POST]/q[QueryParam::${n}==${regex(k)}]`);
      return {
        lines: pad(lines),
        run: (set) => evaluateAndExplain(set, { method: 'POST', url: `/q?${query}` }),
        vetted: [0, 1, 2].map((k) => [regex(k), VALUE_CAP, 2]),
      };
    },
  ],
};

/**
 * F9 (every evaluation). A `*` path is charged twice a value's cost, but its up to 1,024 values are each
 * tested: with a bounded-repetition regex (same cost on 60 characters as on 4 KiB) 137 values of one
 * array cost 68× the charge. Three paths × 137 values.
 */
export const jsonStar = {
  name: 'JsonData *: 3 paths × 137 values of a bounded regex (charged ×2 each)',
  exponent: 1,
  minScale: 1 / 16,
  cause: 'parse.ts charges a * path at weight 2; evaluate.ts walkMiss tests each of up to 1,024 elements',
  variants: [
    (scale) => {
      const regex = '(?:.{0,16}.{0,16}.{0,16}.{0,16}.{0,16}!|a*)';
      const lines = [0, 1, 2].map((k) => `[POST]/y[JsonData::a${k}.*==${regex}]`);
      const value = 'a'.repeat(60);
      const array = Array.from({ length: Math.max(1, Math.floor((ARRAY_TEXT_CAP * scale) / 60) - 1) }, () => value);
      array.push('b');
      const body = { a0: array, a1: array, a2: array };
      return {
        lines: pad(lines),
        run: (set) => evaluateAndExplain(set, { method: 'POST', url: '/y', contentType: json, body }),
        vetted: [[regex, VALUE_CAP, 2]],
      };
    },
  ],
};

/**
 * F10 (every request through the guard). A URL regex is charged once per request, "since the targets of
 * one request together stay within one path's cap" — true for costs that grow with the path, not for a
 * bounded-repetition regex, which costs the same on each of 4 short targets (original URL, baseUrl + url,
 * X-Original-URL, X-Rewrite-URL) as on one long one. Each target must be allowed for the next to run, so a
 * last rule allows them.
 */
export const fourTargets = {
  name: 'decideRequest, 4 targets: 7 bounded URL regexes (set at budget) then an allowing rule',
  exponent: 1,
  minScale: 1,
  cause: 'parse.ts charges each URL regex once per request; decideRequest runs it once per target (×4)',
  variants: [
    () => {
      const regex = (k) => `/(?:.{0,16}.{0,16}.{0,16}.{0,16}.{0,16}!|z${k})`;
      const lines = [...Array.from({ length: 7 }, (_, k) => regex(k)), '/[a-h]+'];
      const targets = [0, 1, 2, 3].map((t) => `/${String.fromCharCode(97 + t).repeat(2040)}`);
      return {
        lines: pad(lines),
        run: (set) => decideAndExplain(set, ['POST'], targets, undefined, undefined),
        vetted: [[regex(0), PATH_CAP, 1]],
      };
    },
  ],
};

/**
 * F11 (every evaluation). The set budget itself: 5e7 estimated steps. On V8 here a step of the accepted
 * shapes costs 1.1–1.3 ns (`.*\/rest/.*\/issue/.*`: 1.34e7 steps, ~17 ms), so a set at its budget with
 * honest estimates is already ~55–60 ms on one target.
 */
export const budgetCalibration = {
  name: 'set at its budget: 3 × (?:.*)/rest/(?:.*)/issue/.* + 1 bounded regex, one target',
  exponent: 1,
  minScale: 1,
  cause: 'SET_COST_BUDGET = 5e7 steps is calibrated at ~0.85 ns/step; accepted shapes run 1.1–1.3 ns/step',
  variants: [
    () => {
      const lines = ['(?:.*)/rest/(?:.*)/issue/.*', '(?:.*)/rest/(?:.*)/issue/(?:.*)', '(?:.+)/rest/(?:.*)/issue/.*', '/(?:.{0,16}.{0,16}.{0,16}.{0,16}.{0,16}!|z)'];
      // Holds the required literal /issue/ (so the regexes run), but before every /rest/: no match.
      const path = `/issue${'/rest'.repeat(Math.floor((PATH_CAP - 10) / 5))}/x`;
      return { lines: pad(lines), run: (set) => evaluateAndExplain(set, { method: 'POST', url: path }), vetted: lines.map((l) => [l, PATH_CAP, 1]) };
    },
  ],
};

/**
 * F12 (every evaluation with a QueryParam rule). Parsing the query marks every prefix of a name before a
 * `.` or `[` as folded: a name of 8,190 dots adds 8,190 prefixes (33 M characters hashed) — quadratic in
 * the query's length, whatever the rules.
 */
export const queryFold = {
  name: 'query of one 8 KiB name a.…. (fold prefixes), one QueryParam rule',
  exponent: 2,
  minScale: 1,
  cause: 'canonical.ts Query.fold adds key.slice(0, i) for every `.`/`[`: O(length²) per name',
  variants: [
    () => {
      const url = `/x?a${'.'.repeat(QUERY_CAP - 1)}`;
      return { lines: pad(['[POST]/x[QueryParam::q==a]']), run: (set) => evaluateAndExplain(set, { method: 'POST', url }), vetted: [['a', VALUE_CAP, 2]] };
    },
  ],
};

/**
 * F13 (first evaluation with `{ caseInsensitive: true }`). The case-insensitive trigram index is built on
 * first use from every rule's literal: 1,000 literals of ~4 KiB are 4 M trigrams.
 */
export const caseInsensitiveIndex = {
  name: 'first evaluation with caseInsensitive: trigram index of 1,000 × 4 KiB literals',
  first: true,
  reuse: true,
  exponent: 1,
  minScale: 1,
  cause: 'compile.ts CompiledSet.index builds the case-insensitive TrigramIndex lazily, in the first such evaluation',
  variants: [
    () => {
      const lines = [];
      for (let i = 0; i < RULES; i++) {
        let s = `/${String(i).padStart(4, '0')}`;
        for (let j = 0; s.length < 4000; j++) s += String.fromCharCode(97 + ((i * 7 + j * 13 + ((j * j) % 11)) % 26));
        lines.push(`[POST]${s}`);
      }
      return { lines, run: (set) => evaluateAndExplain(set, { method: 'POST', url: adversarialPath(4000) }, { caseInsensitive: true }), vetted: [] };
    },
  ],
};

/**
 * F14 (the guard, outside decideRequest). Before reading a JSON body the guard asks needsJsonBody for every
 * (method, target) pair; each call scans every rule's literal in the path. 1,000 method names from an
 * X-HTTP-Method-Override header × 4 targets × 1,000 JsonData rules are 4 M literal searches.
 */
export const guardNeedsJsonBody = {
  name: 'guard: needsJsonBody for 1,000 methods (one method bit) × 4 targets × 1,000 JsonData rules (not decideRequest)',
  exponent: 1,
  minScale: 1,
  scope: 'guard',
  cause: 'guard.ts authorize calls needsJsonBody per (method, target), not per method bit; each is O(rules × path)',
  variants: [
    () => {
      const lines = Array.from({ length: RULES }, (_, i) => `/q${i}zzzz[JsonData::a==b]`);
      const targets = [0, 1, 2, 3].map((t) => `/${String.fromCharCode(97 + t).repeat(2040)}`);
      const methods = Array.from({ length: 1000 }, (_, i) => `M${i}`);
      return {
        lines,
        run: (set) => {
          // As the guard asks since 2026-12-04: once per method bit (unknown methods share one), not per method.
          let needed = false;
          let bits = 0;
          for (const method of methods) {
            const bit = methodBit(method);
            if ((bits & bit) !== 0) continue;
            bits |= bit;
            for (const url of targets) needed ||= needsJsonBody(set, { method, url });
          }
          return needed;
        },
        vetted: [],
      };
    },
  ],
};

/**
 * Not a row (parse, not evaluation): the vetter charges nothing for compiling, and parsing compiles and
 * warms every URL regex. `/\b.\b.…` (2,044 `\b.`, vetted cost 2,041) takes ~660 ms for V8 to compile, so
 * parsing 1,000 of them — which the token service does on a cache miss, in the request — takes ~11 minutes.
 */
export function parseCompileText(units = 2044, count = RULES) {
  return Array.from({ length: count }, (_, i) => `/${'\\b.'.repeat(Math.max(1, units - i))}`).join('\n');
}

/**
 * Not a row (too slow to time here): the worst full-scale set found, F1 and F5 together. The four F1 lines
 * use the set budget (4 × 1.2e7); the 996 lines of dots are vetted at 1 step each. Every evaluation of
 * POST /a…ab (8 KiB) runs F1 (one of its lines alone measured 122 s: ~8 minutes); the first one with
 * `{ caseInsensitive: true }` also compiles 996 `i` regexes (~6 minutes; measured with two F1-like
 * lookahead lines: 557 s first, 191 s after).
 */
export function worstCombinedText() {
  const lines = ['b', 'c', 'd', 'e'].map((x) => `/.{0,16}.{0,16}.{0,4}[^${x}]+.+^`);
  for (let i = 0; lines.length < RULES; i++) lines.push(`/${'.'.repeat(4082 - i)}`);
  return { text: lines.join('\n'), request: { method: 'POST', url: adversarialPath(PATH_CAP) }, options: { caseInsensitive: true } };
}

/** Every finding, most severe first (the order the bench measures them in). */
/**
 * F15 (every evaluation). Value regexes the analysis cannot prove cheap run as DFAs (issue 12, the linear
 * engine): as many distinct ones as a set can hold (the set budget charges each 16 steps a character, twice;
 * the translation work of a parse is bounded too), each on a JsonData value of its own at the 4 KiB cap.
 */
export const linearEngine = {
  name: 'linear engine: distinct DFA value regexes ((a+)+b<i>), each on its own 4 KiB JsonData value',
  exponent: 1,
  minScale: 1 / 16,
  cause: 'every DFA reads its value once; the set budget charges LINEAR_CHAR_COST per character',
  variants: [
    (scale) => {
      const count = Math.max(1, Math.round(200 * scale));
      const value = 'a'.repeat(VALUE_CAP);
      const lines = [];
      const body = {};
      for (let i = 0; i < count; i++) {
        lines.push(`[POST]/j[JsonData::v${i}==(a+)+b${i}]`);
        body[`v${i}`] = value;
      }
      // The set budget and the translation limit refuse the lines past what a set may hold: keep those.
      let accepted = lines;
      for (;;) {
        try {
          parseRestrictions(accepted.join('\n'));
          break;
        } catch (err) {
          const first = err.errors?.[0]?.line;
          if (!first || first <= 1) throw err;
          accepted = accepted.slice(0, first - 1);
        }
      }
      return {
        lines: pad(accepted),
        run: (set) => evaluateAndExplain(set, { method: 'POST', url: '/j', contentType: 'application/json', body }),
        vetted: [],
      };
    },
  ],
};

export const FINDINGS = [
  assertionTail,
  assertionTailSet,
  assertionTailJson,
  lookbehind,
  caseInsensitiveCompile,
  caseHintCompile,
  basePathCompile,
  queryNames,
  jsonStar,
  fourTargets,
  budgetCalibration,
  queryFold,
  caseInsensitiveIndex,
  guardNeedsJsonBody,
  linearEngine,
];

// ---- measurement ----------------------------------------------------------------------------------

const now = () => process.hrtime.bigint();
const ms = (from) => Number(process.hrtime.bigint() - from) / 1e6;
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function tryParse(text) {
  try {
    return { set: parseRestrictions(text) };
  } catch (err) {
    const first = err?.errors?.[0];
    return { error: first ? `line ${first.line}: ${first.code}: ${first.message}` : String(err?.message ?? err) };
  }
}

function vetted(list) {
  if (vetRegex === undefined) return [];
  return list.map(([source, maxInput, weight]) => {
    let verdict;
    try {
      verdict = vetRegex(source, maxInput);
    } catch (err) {
      verdict = { ok: false, message: `vetRegex threw: ${err?.message ?? err}` };
    }
    return { regex: source.length > 90 ? `${source.slice(0, 87)}…` : source, maxInput, weight, cost: verdict.ok ? verdict.cost : null, ...(verdict.ok ? {} : { refused: verdict.message }) };
  });
}

/** Resets the lazily built parts of a set that F13 measures (internal; only used by `reuse` findings). */
function resetLazy(set) {
  for (const sym of Object.getOwnPropertySymbols(set)) {
    const compiled = set[sym];
    if (compiled && typeof compiled === 'object' && 'indexInsensitive' in compiled) {
      compiled.indexInsensitive = undefined;
      compiled.memoPath = undefined;
      return true;
    }
  }
  return false;
}

let freshCounter = 0;

/**
 * One timed run at `scale`: for a steady finding on `state.set` (parsed once per scale), for a first-
 * evaluation finding on a set parsed just before. Returns { ms } or { error } (the set did not parse).
 */
function oneRun(finding, variant, scale, state) {
  if (finding.first && !finding.reuse) {
    const built = variant(scale, ++freshCounter);
    const parsed = tryParse(built.lines.join('\n'));
    if (parsed.error) return { error: parsed.error, built };
    const t = now();
    built.run(parsed.set);
    return { ms: ms(t), built };
  }
  if (state.scale !== scale) {
    const built = variant(scale, 0);
    const parsed = tryParse(built.lines.join('\n'));
    if (parsed.error) return { error: parsed.error, built };
    Object.assign(state, { scale, built, set: parsed.set });
  }
  if (finding.reuse && !resetLazy(state.set)) return { error: 'the set no longer has the lazily built index this row measures', built: state.built };
  // A decision that needed no constraint is remembered for the next call with the same path; an attacker
  // varies the path, so forget it (a request for "/" is cheap for every set here).
  if (!finding.first) evaluateRestrictions(state.set, { method: 'POST', url: '/' });
  const t = now();
  state.built.run(state.set);
  return { ms: ms(t), built: state.built };
}

async function measure(finding, deadline, log) {
  const began = now();
  const row = { name: finding.name, lines: RULES, accepted: false, medianMs: null, p75Ms: null, scope: finding.scope ?? (finding.first ? 'first evaluation after parse' : 'every evaluation'), cause: finding.cause };
  // The first variant whose set parses.
  let variant;
  let probe;
  let refusals = [];
  for (const v of finding.variants) {
    const state = {};
    const r = oneRun(finding, v, finding.minScale, state);
    if (r.error) {
      refusals.push(r.error);
      continue;
    }
    variant = v;
    probe = { r, state };
    break;
  }
  if (variant === undefined) {
    row.skipped = 'no variant parses with the current code (fixed?)';
    row.parseErrors = refusals.map((e) => (e.length > 200 ? `${e.slice(0, 197)}…` : e));
    return row;
  }
  row.accepted = true;
  if (refusals.length > 0) row.variantsRefused = refusals.length;
  // Grow the scale while a run stays within the target.
  let scale = finding.minScale;
  let state = probe.state;
  // The probe ran cold (first parse, first compilation of the code under test): decide on a second run.
  let last = probe.r.ms;
  if (last < RUN_TARGET_MS) {
    const again = oneRun(finding, variant, scale, state);
    if (!again.error) last = Math.min(last, again.ms);
  }
  while (scale < 1) {
    const next = Math.min(1, scale * 2);
    const predicted = last * (next / scale) ** finding.exponent;
    if (predicted > RUN_TARGET_MS || now() + BigInt(Math.round(predicted * (WARMUPS + RUNS + 1) * 1e6)) > deadline) break;
    const r = oneRun(finding, variant, next, state);
    if (r.error) break;
    scale = next;
    last = r.ms;
  }
  const needed = last * (WARMUPS + RUNS) * 1.3;
  if (now() + BigInt(Math.round(needed * 1e6)) > deadline) {
    row.skipped = `time budget (one run ~${last.toFixed(0)} ms at scale ${scale})`;
    return row;
  }
  const times = [];
  let built;
  for (let i = 0; i < WARMUPS + RUNS; i++) {
    const r = oneRun(finding, variant, scale, state);
    if (r.error) {
      row.skipped = r.error;
      return row;
    }
    built = r.built;
    if (i >= WARMUPS) times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  row.medianMs = +quantile(times, 0.5).toFixed(2);
  row.p75Ms = +quantile(times, 0.75).toFixed(2);
  row.scale = scale;
  // Projected to the largest scale whose set is still accepted (parsing only): since maxBytes (128 KiB) a
  // thousand lines of 4 KiB are refused, so full scale may not be reachable at all.
  let accepted = scale;
  while (accepted < 1) {
    const next = Math.min(1, accepted * 2);
    if (tryParse(variant(next, ++freshCounter).lines.join('\n')).error) break;
    accepted = next;
  }
  row.acceptedScale = accepted;
  row.projectedFullMs = accepted > scale ? Math.round(row.medianMs * (accepted / scale) ** finding.exponent) : row.medianMs;
  row.vetted = vetted(built.vetted);
  row.sample = built.lines.slice(0, 2).map((l) => (l.length > 90 ? `${l.slice(0, 87)}…` : l));
  row.benchMs = Math.round(ms(began));
  log?.(`worst-set: ${finding.name}: median ${row.medianMs} ms at scale ${scale} (projected ${row.projectedFullMs} ms at scale ${accepted}, the largest accepted)`);
  return row;
}

/**
 * Measures every finding; returns the rows, the worst accepted set (by measured median, with its projection
 * to full scale), and the findings skipped (no longer accepted, or out of time).
 */
export async function worstSet({ log } = {}) {
  const started = now();
  const deadline = started + BigInt(TOTAL_BUDGET_MS * 1e6);
  const rows = [];
  for (const finding of FINDINGS) {
    if (now() > deadline) {
      rows.push({ name: finding.name, lines: RULES, accepted: null, medianMs: null, p75Ms: null, skipped: 'time budget' });
      continue;
    }
    try {
      rows.push(await measure(finding, deadline, log));
    } catch (err) {
      rows.push({ name: finding.name, lines: RULES, accepted: null, medianMs: null, p75Ms: null, skipped: `error: ${err?.message ?? err}` });
    }
  }
  // The worst set: the largest time at full scale (projected from the measured scale), among rows that
  // are about one evaluateRestrictions / decideRequest call; `worstMeasured` is the largest measured median.
  const timed = rows.filter((r) => r.accepted && r.medianMs !== null && r.scope !== 'guard');
  const pick = (key) => [...timed].sort((a, b) => b[key] - a[key])[0];
  const summary = (r) =>
    r && { name: r.name, lines: r.lines, scope: r.scope, medianMs: r.medianMs, p75Ms: r.p75Ms, scale: r.scale, projectedFullMs: r.projectedFullMs, overContract: r.medianMs > 50, sample: r.sample };
  const worst = summary(pick('projectedFullMs')) ?? null;
  const worstMeasured = summary(pick('medianMs')) ?? null;
  const skipped = rows.filter((r) => r.skipped).map((r) => ({ name: r.name, reason: r.skipped }));
  log?.(`worst-set: done in ${(ms(started) / 1000).toFixed(1)} s`);
  return { rows, worst, worstMeasured, skipped, totalMs: Math.round(ms(started)) };
}
