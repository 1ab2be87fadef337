// Vets a rule regex against catastrophic backtracking before it is accepted (SPEC §2, "Every regex is vetted").
//
// V8 matches with a backtracking engine, so a regex is only safe if its worst case on an input at the
// §3 size caps stays small. Three layers, each a function of its own (exported for the tests, which call
// each layer directly, so that a broken layer cannot hide behind a later one); all three must pass:
//   1. Structure (`checkStructure`): no back-references (named or numbered); a lookaround inside a
//      repetition only when it reads a short bounded text; and every repetition of a group unambiguous:
//      no input splits into its iterations in two ways (what makes `(a|a)*`, `(a|aa)+`, `(a+)+`
//      exponential). Two sufficient conditions are tried (`checkRepetition`): a prefix code with one
//      character of look-ahead, or iterations deterministic with one character of look-ahead. A small
//      bounded repetition is left to the cost layer, which writes it out as the paths it is.
//   2. safe-regex2 (`checkSafeRegex2`): no nested quantifiers (star height ≤ 1), at most 25 quantifiers.
//      It is given an equivalent regex with the forms its count misreads written out (`safeRegex2Input`):
//      optional parts as alternations, bounded repetitions as the finite sequences they are, separated
//      runs `(?:\.\d+)*` with one star, lookbehinds (its parser cannot read them) as lookaheads.
//   3. Cost (`estimateCost`): an upper estimate of the backtracking steps on an input of the capped length.
//      Each top-level path through the alternations is costed separately and the costs added. Along a path,
//      an unbounded quantifier Q(i+1) that follows Q(i) multiplies the work by the number of places the
//      text between them can start inside Q(i)'s run: n / period(separator) when Q(i) can swallow the
//      separator (`.*/rest/.*`: n/5), a constant when it cannot (`[^/]*/x`). Adjacent overlapping
//      quantifiers (`.*.*x`, `.*\s+`) are the separator-free case: n starts, unless the first one's
//      iterations end with a character the second cannot read (`([\w-]+\.)+[\w-]+`). A trailing
//      quantifier that accepts every character ends the match at its first try and adds only n. Runs of
//      adjacent repetitions that are deterministic together (`[\w-]+(?:\.[\w-]+)*`) may be costed as one;
//      the smaller of the two estimates is taken.
// The estimate is conservative (it overestimates some safe shapes) and is compared with a budget
// calibrated on V8: `.*/rest/.*/issue/.*` on an 8 KiB adversarial path is 1.3e7 steps and ~11 ms.
// test/unit/rules/benign-corpus.test.ts measures the false refusals on public regexes, and
// redos-corpus.test.ts times every accepted shape, and every newly accepted corpus regex, at the caps.
import type { AST, RegExpParser } from '@eslint-community/regexpp';
import type { ReadonlyFlags, toCharSet } from 'regexp-ast-analysis';
import { analysisLibs } from './analysis-libs.js';
import { applyEdits } from './source-edits.js';

/** A character set as the analysis sees it (refa's `CharSet`). */
type CharSet = ReturnType<typeof toCharSet>;

/** Estimated backtracking steps a line may cost in total; ~20 ms of V8 time on the reference machine. */
export const COST_BUDGET = 25_000_000;
/**
 * Steps per character a bounded repetition reads: calibrated on V8 (`/a{0,16}a{0,16}a{0,16}.{4000}!` on a
 * 4 KiB path reads ~2e7 characters in ~120 ms, where unbounded repetitions run ~1.5 ns per step).
 */
const BOUNDED_READ_COST = 4;
/** Variable-width quantifiers with more than this many optional repetitions count as unbounded. */
const BOUNDED_SPREAD = 16;
/** Analysis limits; a regex beyond them is rejected as too complex to prove safe. */
const MAX_PATHS = 2048;
const MAX_ITEMS = 200_000;
const MAX_BODY_SEQUENCES = 256;
/** The determinism check of a repeated group gives up (and refuses) beyond this many automaton nodes or steps. */
const MAX_NFA_NODES = 4096;
const MAX_NFA_STEPS = 200_000;
/** A lookaround inside a repetition may read at most this many characters (it is re-run at every iteration). */
const MAX_LOOK_IN_REPEAT = 32;
/**
 * All determinism checks of one vetting together visit at most this many automaton nodes; past it they
 * answer "not deterministic" (the conservative answer), so that no regex makes the vetting itself slow.
 */
const MAX_NFA_WORK = 2_000_000;
/** Deterministic runs of adjacent repetitions are merged up to this many elements. */
const MAX_RUN = 16;
/** Bounded repetitions are written out for safe-regex2 up to this many copies, and up to this much text. */
const MAX_UNROLL = 256;
const MAX_UNROLLED_SOURCE = 65_536;

/** The verdict on one regex. */
/**
 * `cost`: the estimated worst-case steps; `wordBoundaries`: the `\b` and `\B` it holds, which V8 takes
 * superlinear time to compile (the set's total is bounded by parse).
 */
export type SafetyVerdict = { ok: true; cost: number; wordBoundaries: number } | { ok: false; message: string; index: number };

/**
 * The most word boundaries (`\b`, `\B`) one regex may hold. V8's compilation of each grows with the others
 * in the regex: 64 take about 5 ms, 1,360 (one 4 KiB line) 0.27 s.
 */
export const MAX_WORD_BOUNDARIES = 64;
/** What one layer found: nothing (`null`), or why the regex is refused and where (index into the source). */
export type Refusal = { message: string; index: number };

/** One step of a linearized path through the regex. */
type Item =
  | { t: 'char'; set: CharSet }
  /**
   * A repetition; `unbounded` ones drive the cost, bounded ones multiply the paths by `spread`. `weight`
   * is the work per character read (above 1 when the body holds a lookaround, re-run at every iteration).
   */
  | { t: 'loop'; set: CharSet; last: CharSet; all: boolean; nullable: boolean; unbounded: boolean; spread: number; maxLen: number; weight: number; at: number; text: string }
  | { t: 'look'; cost: number }
  /** `$`: what comes before it must reach the end of the input (inside a lookaround, too). */
  | { t: 'end' }
  /** `^`: the start of the input (after a character, a test that always fails). */
  | { t: 'start' };

class Unsafe extends Error {
  constructor(message: string, readonly index: number) {
    super(message);
  }
}

let parser: RegExpParser | undefined;

/** Groups and quantifiers nested deeper than this are refused: the analysis recurses along the nesting. */
const MAX_DEPTH = 64;

function parse(source: string): AST.Pattern | Refusal {
  // Every entry point parses first: the determinism checks' work budget starts afresh here.
  nfaWork = 0;
  parser ??= new (analysisLibs().regexpp.RegExpParser)({ ecmaVersion: 2025 });
  let pattern: AST.Pattern;
  try {
    pattern = parser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return { message: 'the regex uses syntax the safety analysis cannot read', index: 0 };
  }
  const depth = (node: AST.Node, d: number): number => {
    if (d > MAX_DEPTH) return d;
    let max = d;
    for (const child of children(node)) max = Math.max(max, depth(child, d + 1));
    return max;
  };
  if (depth(pattern, 0) > MAX_DEPTH) return { message: 'the regex is nested too deeply to analyse', index: 0 };
  return pattern;
}

const flagsOf = (caseInsensitive: boolean): ReadonlyFlags => ({ dotAll: true, ignoreCase: caseInsensitive });

/** `f()`, or `fallback` when it throws `Unsafe` (a part the analysis cannot read). */
function attemptOr<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Unsafe) return fallback;
    throw err;
  }
}

/** Runs a check that throws `Unsafe`; returns its refusal, or null. */
function attempt(check: () => void): Refusal | null {
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof Unsafe) return { message: err.message, index: err.index };
    // Defence in depth behind MAX_DEPTH and the other limits: a regex the analysis cannot finish is refused.
    if (err instanceof RangeError) return { message: 'the regex is too large to analyse', index: 0 };
    throw err;
  }
}

/**
 * Decides whether `source` is safe to evaluate on inputs up to `maxInput` characters.
 * `caseInsensitive` widens character sets the way the `i` flag does (the conservative choice).
 */
export function vetRegex(source: string, maxInput: number, caseInsensitive = true): SafetyVerdict {
  const pattern = parse(source);
  if (!('type' in pattern)) return { ok: false, ...pattern };
  const boundaries: AST.Assertion[] = [];
  analysisLibs().regexpp.visitRegExpAST(pattern, { onAssertionEnter: (a) => void (a.kind === 'word' && boundaries.push(a)) });
  if (boundaries.length > MAX_WORD_BOUNDARIES) {
    return {
      ok: false,
      message: `more than ${MAX_WORD_BOUNDARIES} word boundaries (\\b, \\B): V8 takes longer to compile each the more there are (1,360 took 0.27 s)`,
      index: boundaries[MAX_WORD_BOUNDARIES]!.start,
    };
  }
  const copied = backreferencesCopied(source, pattern);
  if (copied !== null) {
    const verdict = vetRegex(copied.source, maxInput, caseInsensitive);
    if (verdict.ok) return { ...verdict, wordBoundaries: boundaries.length };
    return { ok: false, message: `back-reference \`${copied.first.raw}\`, costed as a copy of its group: ${verdict.message}`, index: copied.first.start };
  }
  const flags = flagsOf(caseInsensitive);
  const refusal = attempt(() => structure(pattern, flags)) ?? safeRegex2Refusal(source, pattern);
  if (refusal) return { ok: false, ...refusal };
  const estimate = costEstimate(pattern, flags, maxInput);
  if ('message' in estimate) return { ok: false, ...estimate };
  const { cost } = estimate;
  if (cost > COST_BUDGET) {
    return {
      ok: false,
      message:
        `its worst case on a ${maxInput}-character input is about ${cost.toExponential(1)} backtracking steps ` +
        `(the budget is ${COST_BUDGET.toExponential(1)}); quantifiers that can match the same text in ` +
        `several ways multiply — use [^/]* for one path segment instead of .*`,
      index: 0,
    };
  }
  return { ok: true, cost, wordBoundaries: boundaries.length };
}

/** The longest text a group may match for a back-reference to it to be costed as a copy. */
const MAX_COPIED_GROUP = 32;
/** The longest source a regex with its back-references copied may have. */
const MAX_COPIED_SOURCE = 16_384;

/**
 * `source` with every back-reference written as an optional copy of its group, `(?:group|)`, or null
 * when it has none or one cannot be copied. A back-reference reads, deterministically, the text its group
 * read (or nothing, when the group has not matched): text the copy can read too, since the group's own
 * pattern matched it and holds no assertion that could read it differently here. So every way V8 can try
 * the original is a way it can try the copy. That bounds which ways exist, not how many V8 tries before
 * it gives up: where the copy succeeds and the back-reference fails, V8 tries on (`(.*)(.*)\1\2` was costed
 * 1e5 and took 2 s on 4 KiB). So only groups of at most {@link MAX_COPIED_GROUP} characters are copied,
 * whose bounded spreads the cost layer charges at every attempt. Not copied (the structure layer then
 * refuses the back-reference): a longer group, one that holds an assertion, a back-reference or a named
 * group; a back-reference inside its own group or a lookbehind (matched backwards); a copy over
 * {@link MAX_COPIED_SOURCE} characters.
 */
export function backreferencesCopied(source: string, pattern: AST.Pattern): { source: string; first: AST.Backreference } | null {
  const refs: AST.Backreference[] = [];
  let insideLookbehind = false;
  const collect = (node: AST.Node, behind: boolean): void => {
    if (node.type === 'Backreference') {
      refs.push(node);
      if (behind) insideLookbehind = true;
    }
    const isBehind = behind || (node.type === 'Assertion' && node.kind === 'lookbehind');
    for (const child of children(node)) collect(child, isBehind);
  };
  collect(pattern, false);
  if (insideLookbehind || refs.length === 0) return null;
  const copyable = (group: AST.CapturingGroup): boolean => {
    let fine = true;
    const visit = (node: AST.Node): void => {
      if (node.type === 'Assertion' || node.type === 'Backreference' || (node.type === 'CapturingGroup' && node.name !== null && node !== group)) fine = false;
      for (const child of children(node)) visit(child);
    };
    visit(group);
    return fine;
  };
  const { getLengthRange } = analysisLibs().rea;
  const edits: { start: number; end: number; text: string }[] = [];
  for (const ref of refs) {
    const group = ref.resolved;
    if (Array.isArray(group) || !copyable(group as AST.CapturingGroup)) return null;
    const g = group as AST.CapturingGroup;
    // Only short groups: where the copy succeeds and the back-reference fails, V8 goes on trying what the
    // copy's estimate (which may stop at its first success) never charged; `(.*)(.*)\1\2` was costed 1e5
    // and took 2 s on 4 KiB. A group of at most 32 characters bounds that work by its spreads.
    if (getLengthRange(g, flagsOf(true)).max > MAX_COPIED_GROUP) return null;
    if (ref.start >= g.start && ref.end <= g.end) return null;
    edits.push({ start: ref.start, end: ref.end, text: `(?:${g.alternatives.map((a) => a.raw).join('|')}|)` });
  }
  // Bounded before it is built: every copy adds its text.
  if (source.length + edits.reduce((n, e) => n + e.text.length, 0) > MAX_COPIED_SOURCE) return null;
  return { source: applyEdits(source, edits), first: refs.reduce((a, b) => (a.start <= b.start ? a : b)) };
}

/** Layer 1 on its own: back-references, lookarounds inside repetitions, ambiguous repetitions. */
export function checkStructure(source: string, caseInsensitive = true): Refusal | null {
  const pattern = parse(source);
  if (!('type' in pattern)) return pattern;
  return attempt(() => structure(pattern, flagsOf(caseInsensitive)));
}

/** Layer 2 on its own: safe-regex2 on {@link safeRegex2Input}. */
export function checkSafeRegex2(source: string): Refusal | null {
  const pattern = parse(source);
  if (!('type' in pattern)) return pattern;
  return safeRegex2Refusal(source, pattern);
}

/** Layer 3 on its own: the estimated worst-case steps on an input of `maxInput` characters (not compared with the budget). */
export function estimateCost(source: string, maxInput: number, caseInsensitive = true): { cost: number } | Refusal {
  const pattern = parse(source);
  if (!('type' in pattern)) return pattern;
  return costEstimate(pattern, flagsOf(caseInsensitive), maxInput);
}

function costEstimate(pattern: AST.Pattern, flags: ReadonlyFlags, maxInput: number): { cost: number } | Refusal {
  let cost = 0;
  return attempt(() => (cost = costOf(pattern.alternatives, flags, maxInput, true))) ?? { cost };
}

// ---- layer 2: safe-regex2 ----------------------------------------------------------------------

function safeRegex2Refusal(source: string, pattern: AST.Pattern): Refusal | null {
  if (analysisLibs().safeRegex(safeRegex2Input(source, pattern))) return null;
  return { message: 'nested quantifiers or more than 25 quantifiers (rejected by safe-regex2)', index: 0 };
}

/**
 * The regex safe-regex2 is given: one that matches the same strings, with the forms its star-height
 * count misreads written out. safe-regex2 counts every quantifier as a star, but only unbounded ones are:
 *   - `X?` (also `X??`, `X{0,1}`) is the alternation `(?:X|)`: `-?\d+(\.\d+)?` and `(/\d+)?` have no
 *     nesting, which safe-regex2 would count as star height 2.
 *   - `X{m,n}` with n finite is the finite sequence X…X (m times) then (n−m) times `(?:X|)`: the same
 *     strings (X{0,2} matches "", X and XX, and so does (?:X|)(?:X|)). `(\d{1,3}\.){3}` and
 *     `(?:[A-Za-z0-9+/]{4})*` are star height 1. Written out up to MAX_UNROLL copies and
 *     MAX_UNROLLED_SOURCE characters; a larger one stays as written (and counts as a star).
 *   - safe-regex2's parser cannot read lookbehinds (it reports them unsafe), so `(?<=X)` / `(?<!X)` are
 *     given as `(?=X)` / `(?!X)`: the same quantifiers at the same depth, which is all it measures.
 * Nesting that really repeats (`(a?)*`, `(a+)+`, `(?:\d{1,3})*`) is still nested after the rewrite.
 */
export function safeRegex2Input(source: string, pattern?: AST.Pattern): string {
  const p = pattern ?? parse(source);
  if (!('type' in p)) return source;
  const unrolled = render(p, true);
  return unrolled.length <= MAX_UNROLLED_SOURCE ? unrolled : render(p, false);
}

function render(node: AST.Node, unroll: boolean): string {
  const alts = (n: { alternatives: readonly AST.Alternative[] }) => n.alternatives.map((a) => render(a, unroll)).join('|');
  switch (node.type) {
    case 'Pattern':
      return alts(node);
    case 'Alternative':
      return node.elements.map((e) => render(e, unroll)).join('');
    case 'Group':
    case 'CapturingGroup':
      return `(?:${alts(node)})`;
    case 'Assertion':
      if (node.kind === 'lookahead' || node.kind === 'lookbehind') return `(?${node.negate ? '!' : '='}${alts(node)})`;
      return node.raw;
    case 'Quantifier': {
      const sep = node.max === Infinity && node.min <= 1 ? attemptOr(() => separatedIteration(node, unroll), null) : null;
      if (sep !== null) return sep;
      const body = render(node.element, unroll);
      if (node.max === 1) return node.min === 1 ? `(?:${body})` : `(?:${body}|)`;
      if (unroll && node.max !== Infinity && node.max <= MAX_UNROLL && (body.length + 5) * node.max <= MAX_UNROLLED_SOURCE) {
        return `(?:${body})`.repeat(node.min) + `(?:${body}|)`.repeat(node.max - node.min);
      }
      // The quantifier as written (`*`, `+?`, `{2,}`), after the element.
      return `(?:${body})${node.raw.slice(node.element.end - node.start)}`;
    }
    default:
      return node.raw;
  }
}

/**
 * A repetition of a separator X and a run S* or S+ of one character class (`(?:\.\d+)*`,
 * `([\w-]+\.)+`, `(?:,\s*)*`), where S cannot start X, written with one star. These are identities of
 * the languages (each side matches the same strings, whatever X and S are):
 *   (X S*)* = (?:X(?:X|S)*|)        (X S+)* = (?:X S(?:S|X S)*|)
 *   (S* X)* = (?:(?:S|X)*X|)        (S+ X)* = (?:S(?:S|X S)*X|)
 * and the `+` forms without the final `|)`. A word of the left side is a sequence of blocks; on the
 * right, every X starts (or ends) a block and the S around it belong to it. The condition that S cannot
 * start X is not needed for the identity: it keeps the rewrite to the separated shape, so that
 * ambiguous repetitions such as `(a a*)*` stay nested for safe-regex2 (the structure layer refuses them
 * as well). X must hold no unbounded repetition (bounded ones are written out), or this returns null.
 */
function separatedIteration(q: AST.Quantifier, unroll: boolean): string | null {
  const el = q.element;
  if ((el.type !== 'Group' && el.type !== 'CapturingGroup') || el.alternatives.length !== 1) return null;
  const elements = el.alternatives[0]!.elements;
  if (elements.length < 2) return null;
  const flags = flagsOf(true);
  const isRun = (e: AST.Element): e is AST.Quantifier => e.type === 'Quantifier' && e.max === Infinity && e.min <= 1 && isSingleChar(e.element);
  const last = unwrap(elements[elements.length - 1]!);
  const head = unwrap(elements[0]!);
  const runAtEnd = isRun(last);
  const run = runAtEnd ? last : isRun(head) ? head : null;
  if (run === null) return null;
  const rest: AST.Element[] = runAtEnd ? elements.slice(0, -1) : elements.slice(1);
  if (rest.some((e) => !Number.isFinite(summarize(e, flags).max))) return null;
  if (rest.reduce((sum, e) => sum + summarize(e, flags).min, 0) === 0) return null;
  const first = firstChars(rest, flags);
  const runSet = charSetOf(run.element as AST.Character | AST.CharacterClass | AST.CharacterSet, flags);
  if (first === null || !first.isDisjointWith(runSet)) return null;
  const x = rest.map((e) => render(e, unroll)).join('');
  const s = run.element.raw;
  const plus = run.min === 1;
  const body = runAtEnd
    ? plus
      ? `${x}${s}(?:${s}|${x}${s})*`
      : `${x}(?:${x}|${s})*`
    : plus
      ? `${s}(?:${s}|${x}${s})*${x}`
      : `(?:${s}|${x})*${x}`;
  return q.min === 1 ? `(?:${body})` : `(?:${body}|)`;
}

/** The characters the sequence `elements` can start with (null when it can read nothing). */
function firstChars(elements: readonly AST.Node[], flags: ReadonlyFlags): CharSet | null {
  let out: CharSet | null = null;
  for (const e of elements) {
    const f = firstOf(e, flags);
    if (f) out = out ? out.union(f) : f;
    if (summarize(e, flags).min > 0) return out;
  }
  return out;
}

function firstOf(node: AST.Node, flags: ReadonlyFlags): CharSet | null {
  if (isSingleChar(node)) return charSetOf(node, flags);
  if (node.type === 'Quantifier') return node.max === 0 ? null : firstOf(node.element, flags);
  if (node.type === 'Group' || node.type === 'CapturingGroup') {
    let out: CharSet | null = null;
    for (const alt of node.alternatives) {
      const f = firstChars(alt.elements, flags);
      if (f) out = out ? out.union(f) : f;
    }
    return out;
  }
  return null;
}

/** The characters the sequence `elements` can end with (null when it can read nothing). */
function lastChars(elements: readonly AST.Node[], flags: ReadonlyFlags): CharSet | null {
  let out: CharSet | null = null;
  for (let i = elements.length - 1; i >= 0; i--) {
    const e = elements[i]!;
    const f = lastOf(e, flags);
    if (f) out = out ? out.union(f) : f;
    if (summarize(e, flags).min > 0) return out;
  }
  return out;
}

function lastOf(node: AST.Node, flags: ReadonlyFlags): CharSet | null {
  if (isSingleChar(node)) return charSetOf(node, flags);
  if (node.type === 'Quantifier') return node.max === 0 ? null : lastOf(node.element, flags);
  if (node.type === 'Group' || node.type === 'CapturingGroup') {
    let out: CharSet | null = null;
    for (const alt of node.alternatives) {
      const f = lastChars(alt.elements, flags);
      if (f) out = out ? out.union(f) : f;
    }
    return out;
  }
  return null;
}

// ---- layer 1: structure ------------------------------------------------------------------------

function structure(pattern: AST.Pattern, flags: ReadonlyFlags): void {
  // Back-references first, wherever they are, so that their reason is the one given: `(?<n>a)(?:\k<n>)*`
  // is a back-reference, not (as a repetition of a group holding one would say) a nested repetition.
  const backref = (node: AST.Node): void => {
    if (node.type === 'Backreference') {
      throw new Unsafe(`back-reference \`${node.raw}\` (back-references can take exponential time)`, node.start);
    }
    for (const child of children(node)) backref(child);
  };
  backref(pattern);
  const visit = (node: AST.Node, insideRepeat: boolean, behind: boolean): void => {
    if (node.type === 'Quantifier') {
      const repeats = node.max > 1;
      // The body first (its lookarounds and inner repetitions have the more precise reasons), then the
      // repetition itself. A repeated body that reads nothing (`(?=a)*`, `(?:\b)*`) is stopped by V8's
      // empty-iteration check at once.
      visit(node.element, insideRepeat || repeats, behind);
      if (repeats && !isSingleChar(node.element) && summarize(node.element, flags).max > 0) {
        // Inside a lookbehind V8 matches backwards, which the tests of `checkRepetition` do not model;
        // only a repetition the cost layer writes out (and costs backwards) is accepted there.
        if (behind && boundedExpansion(node, flags, 1, false) === null) {
          throw new Unsafe(`the repeated group \`${node.raw}\` inside a lookbehind (matched backwards, which the analysis does not model)`, node.start);
        }
        checkRepetition(node, flags);
      }
      return;
    }
    if (node.type === 'Assertion' && (node.kind === 'lookahead' || node.kind === 'lookbehind') && insideRepeat) {
      checkLookInRepeat(node, flags);
    }
    const isBehind = behind || (node.type === 'Assertion' && node.kind === 'lookbehind');
    for (const child of children(node)) visit(child, insideRepeat, isBehind);
  };
  visit(pattern, false, false);
}

function children(node: AST.Node): readonly AST.Node[] {
  switch (node.type) {
    case 'Pattern':
    case 'Group':
    case 'CapturingGroup':
      return node.alternatives;
    case 'Assertion':
      return node.kind === 'lookahead' || node.kind === 'lookbehind' ? node.alternatives : [];
    case 'Alternative':
      return node.elements;
    case 'Quantifier':
      return [node.element];
    default:
      return [];
  }
}

const isSingleChar = (el: AST.Node): el is AST.Character | AST.CharacterClass | AST.CharacterSet =>
  el.type === 'Character' || el.type === 'CharacterClass' || el.type === 'CharacterSet';

/**
 * A lookaround inside a repetition runs again at every iteration. When it reads a short bounded text
 * (no unbounded quantifier, at most MAX_LOOK_IN_REPEAT characters, no lookaround of its own), each run is
 * a bounded test and — lookarounds being atomic in JavaScript, never re-entered on backtracking — adds a
 * constant per iteration (charged by the cost layer as the repetition's `weight`), as in path-to-regexp's
 * `(?:(?!\.)[^\/#\?])+?`. Anything longer can multiply: `(?:x(?=.*y))*z` is quadratic.
 */
function checkLookInRepeat(look: AST.LookaroundAssertion, flags: ReadonlyFlags): void {
  let nested = false;
  const scan = (n: AST.Node): void => {
    if (n !== look && n.type === 'Assertion' && (n.kind === 'lookahead' || n.kind === 'lookbehind')) nested = true;
    children(n).forEach(scan);
  };
  scan(look);
  const lookMax = Math.max(0, ...look.alternatives.map((a) => summarize(a, flags).max));
  if (nested || !Number.isFinite(lookMax) || lookMax > MAX_LOOK_IN_REPEAT) {
    throw new Unsafe(`lookaround \`${look.raw}\` inside a repetition (it runs again at every iteration)`, look.start);
  }
}

/**
 * A repeated group is safe when no input can be split into its iterations in more than one way; an
 * ambiguous repetition (`(a|a)*`, `(a|aa)+`, `(a+)+`, `(\d*,?)*`) tries exponentially many splits on a
 * mismatch. Two sufficient conditions are tried; the group is refused unless one holds.
 *  (a) `prefixCodeWithLookahead`: the body's texts are finitely many fixed-length sequences of character
 *      sets (optional parts and small bounded repetitions written out), and none is a prefix of another,
 *      except where the longer continues with a character no iteration can start with (`(ab|a)*`).
 *  (b) `deterministicIterations`: whatever the body (`(\.\d+)*`, `([a-z0-9-]+\.)+`), at every point inside
 *      the repetition at most one way forward can consume the next character (leaving the repetition
 *      aside): the body is deterministic with one character of look-ahead.
 */
function checkRepetition(q: AST.Quantifier, flags: ReadonlyFlags): void {
  // A small bounded repetition is costed by the cost layer as the paths it is (`boundedExpansion`):
  // its ambiguity, if any, is a finite number of ways, which the cost layer counts and charges.
  // (Written out without merged runs it has the most paths: merging can only make fewer.)
  if (boundedExpansion(q, flags, 1, false) !== null) return;
  const el = q.element;
  const alternatives = el.type === 'Group' || el.type === 'CapturingGroup' ? el.alternatives : null;
  let sequences: CharSet[][] | null = null;
  if (alternatives) {
    try {
      sequences = bodySequences(alternatives, flags, q.start);
    } catch (err) {
      if (!(err instanceof Unsafe)) throw err;
    }
  }
  if (sequences && prefixCodeWithLookahead(sequences)) return;
  if (deterministicIterations(q, flags)) return;
  if (sequences) {
    throw new Unsafe(
      `the alternatives of the repeated group \`${q.raw}\` can match the same text in more than one way ` +
        '(this takes exponential time on a mismatch)',
      q.start,
    );
  }
  throw new Unsafe('a repetition inside a repetition (nested quantifiers can take exponential time)', q.start);
}

/**
 * Fixed-length character-set sequences of a repeated group's body, one per way through it. An optional
 * part is two ways (without it, with it); a bounded repetition `X{m,n}` up to BOUNDED_SPREAD is one way
 * per count; zero-width assertions and (bounded) lookarounds are left out, which only adds texts (the
 * conservative side). Throws when the body holds a repetition that is not bounded or too many ways.
 */
function bodySequences(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, at: number): CharSet[][] {
  const out: CharSet[][] = [];
  for (const alt of alternatives) {
    let seqs: CharSet[][] = [[]];
    for (const el of alt.elements) {
      const parts = elementSequences(el, flags, at);
      if (parts === null) continue;
      seqs = seqs.flatMap((s) => parts.map((p) => [...s, ...p]));
      if (seqs.length > MAX_BODY_SEQUENCES) throw new Unsafe('a repeated group with too many alternatives to analyse', at);
    }
    out.push(...seqs);
    if (out.length > MAX_BODY_SEQUENCES) throw new Unsafe('a repeated group with too many alternatives to analyse', at);
  }
  return out;
}

/** The sequences of one element of a repeated body; null for a zero-width element. */
function elementSequences(el: AST.Element, flags: ReadonlyFlags, at: number): CharSet[][] | null {
  if (isSingleChar(el)) return [[charSetOf(el, flags)]];
  if (el.type === 'Group' || el.type === 'CapturingGroup') return bodySequences(el.alternatives, flags, at);
  if (el.type === 'Assertion') return null;
  if (el.type === 'Quantifier' && el.max <= BOUNDED_SPREAD) {
    const inner = elementSequences(el.element, flags, at) ?? [[]];
    let counts: CharSet[][] = [[]];
    const out: CharSet[][] = [];
    for (let k = 0; k <= el.max; k++) {
      if (k >= el.min) out.push(...counts);
      if (k === el.max) break;
      counts = counts.flatMap((p) => inner.map((s) => [...p, ...s]));
      if (counts.length + out.length > MAX_BODY_SEQUENCES) throw new Unsafe('a repeated group with too many alternatives to analyse', at);
    }
    return out;
  }
  // A back-reference is refused before this runs; what is left is a repetition that is not bounded.
  throw new Unsafe('a repetition inside a repetition (nested quantifiers can take exponential time)', at);
}

/**
 * (a) Every prefix of the input has at most one split into whole iterations when, for any two ways x, y
 * through the body with |x| ≤ |y| whose texts can agree on x's length: |x| < |y|, and y's next
 * character can start no iteration (is disjoint from FIRST, the first characters of all ways).
 * Proof: two splits of one prefix first differ at some iteration, at the same position, taking x and y.
 * Equal lengths would be one text matched two ways; otherwise the split taking x goes on with a new
 * iteration (it must cover y's next character), whose first character is in FIRST but also is y's next
 * character. So the engine meets each prefix as whole iterations at most once, and tries each way of the
 * next iteration (a bounded read) from it: linear. A way that matches nothing is a prefix of every other
 * way and is refused (`(a?)*`). This is the prefix-code test (no text a prefix of another) made exact for
 * repetitions such as `(ab|a)*` and `(?:[0-9] ?){6,14}`, where the separator is what tells them apart.
 */
function prefixCodeWithLookahead(seqs: readonly CharSet[][]): boolean {
  let first: CharSet | null = null;
  for (const s of seqs) if (s.length > 0) first = first ? first.union(s[0]!) : s[0]!;
  for (let a = 0; a < seqs.length; a++) {
    for (let b = a + 1; b < seqs.length; b++) {
      const [x, y] = seqs[a]!.length <= seqs[b]!.length ? [seqs[a]!, seqs[b]!] : [seqs[b]!, seqs[a]!];
      if (!x.every((set, i) => !set.isDisjointWith(y[i]!))) continue;
      if (x.length === y.length) return false;
      if (x.length === 0 || first === null || !y[x.length]!.isDisjointWith(first)) return false;
    }
  }
  return true;
}

/** A node of the automaton `deterministicIterations` builds: a character to read, a choice, or the exit. */
type NfaNode =
  | { k: 'char'; set: CharSet; next: NfaNode }
  /** A choice; a loop has two, its entry and its back node (where an iteration ends), sharing `loop`. */
  | { k: 'split'; outs: NfaNode[]; loop?: object; back?: boolean }
  | { k: 'exit' };

/**
 * (b) Builds the repetition's automaton as the backtracking engine walks it (a Thompson automaton: one
 * choice node per alternation and per quantifier, whose ways are the engine's backtracking choices;
 * bounded repetitions written out, larger ones as `*`, which has more ways and so is the conservative
 * side), with everything after the repetition as one exit node. Then, from the entry and after each
 * character, it follows every way through the choice nodes to the next character node and requires that
 * no two ways reach characters that can be the same input character, and that no way reaches a
 * character node twice. A way that goes round a loop without reading is no way at all: JavaScript fails
 * an iteration that matches nothing (past the minimum count), so `(a?)*` has the ways of `(a)*`.
 *
 * Why that suffices: from any point inside the repetition, the next input character is read by at most
 * one way, so every way the engine backtracks into fails at its first character; the ways that leave
 * the repetition are the only other choices, one per point reached. The engine therefore reaches each
 * input position in at most one state of the repetition, and the repetition behaves as a loop over the
 * union of its characters (how the cost layer charges it): `(\.\d+)*` is as cheap as `[.\d]*`. `(a+)+`
 * fails (from `a` two ways reach `a`: round the inner loop, or out of it and round the outer one), and
 * so do `(a*)*` (the same), `(\d*,?)*` (after a digit: another digit, or a new iteration's digit) and
 * `(a|ab)*` (both ways read `a`; the prefix-code test (a) accepts that one).
 */
function deterministicIterations(q: AST.Quantifier, flags: ReadonlyFlags): boolean {
  return deterministic([q], flags);
}

/**
 * The check of `deterministicIterations` for a sequence of elements followed by an exit: from its entry
 * and after each of its characters, at most one way forward can read the next character (the exit
 * aside), no way reaches a character twice and none loops without reading.
 */
let nfaWork = 0;

function deterministic(elements: readonly AST.Node[], flags: ReadonlyFlags): boolean {
  const exit: NfaNode = { k: 'exit' };
  const chars: Extract<NfaNode, { k: 'char' }>[] = [];
  let nodes = 0;
  const grow = (): void => {
    if (++nodes > MAX_NFA_NODES || ++nfaWork > MAX_NFA_WORK) throw new Unsafe('a repetition too large to analyse', 0);
  };
  const build = (node: AST.Node, next: NfaNode): NfaNode => {
    switch (node.type) {
      case 'Character':
      case 'CharacterClass':
      case 'CharacterSet': {
        grow();
        const c = { k: 'char' as const, set: charSetOf(node, flags), next };
        chars.push(c);
        return c;
      }
      case 'Alternative':
        return node.elements.reduceRight<NfaNode>((rest, el) => build(el, rest), next);
      case 'Group':
      case 'CapturingGroup':
        if (node.alternatives.length === 1) return build(node.alternatives[0]!, next);
        grow();
        return { k: 'split', outs: node.alternatives.map((a) => build(a, next)) };
      case 'Quantifier': {
        // Mandatory copies, then the optional ones nested (X{0,2} is (X(X)?)?, as the engine counts), or a
        // loop for an unbounded (or large) repetition.
        const optional = node.max === Infinity || node.max - node.min > BOUNDED_SPREAD ? Infinity : node.max - node.min;
        let rest: NfaNode;
        if (optional === Infinity) {
          grow();
          const loop = {};
          const back: Extract<NfaNode, { k: 'split' }> = { k: 'split', outs: [], loop, back: true };
          const body = build(node.element, back);
          back.outs.push(body, next);
          rest = { k: 'split', outs: [body, next], loop };
        } else {
          rest = next;
          for (let i = 0; i < optional; i++) {
            grow();
            rest = { k: 'split', outs: [build(node.element, rest), next] };
          }
        }
        // Iterations past the first BOUNDED_SPREAD mandatory ones are built as the loop's, which are
        // different only for a body that can match nothing (the loop's empty iterations fail).
        if (node.min > BOUNDED_SPREAD && summarize(node.element, flags).min === 0) throw new Unsafe('a repetition too large to analyse', 0);
        const mandatory = Math.min(node.min, BOUNDED_SPREAD);
        for (let i = 0; i < mandatory; i++) rest = build(node.element, rest);
        return rest;
      }
      default:
        // Zero-width: assertions and (bounded) lookarounds read nothing; leaving them out only adds ways.
        return next;
    }
  };
  let entry: NfaNode;
  try {
    entry = elements.reduceRight<NfaNode>((rest, el) => build(el, rest), exit);
  } catch (err) {
    if (err instanceof Unsafe) return false;
    throw err;
  }
  let steps = 0;
  // Every way from `from` to the next character node; false when two can read the same character.
  const deterministicFrom = (from: NfaNode): boolean => {
    const reached: Extract<NfaNode, { k: 'char' }>[] = [];
    // Loops entered (or iterated) on the way so far, without reading a character.
    const loops: object[] = [];
    const walk = (n: NfaNode): boolean => {
      if (++steps > MAX_NFA_STEPS || ++nfaWork > MAX_NFA_WORK) return false;
      if (n.k === 'exit') return true;
      if (n.k === 'char') {
        if (reached.some((r) => r === n || !r.set.isDisjointWith(n.set))) return false;
        reached.push(n);
        return true;
      }
      // An iteration that ends where it began (the way went round a loop without reading) fails in
      // JavaScript (RepeatMatcher: an empty iteration past the minimum is a failure): no way at all.
      if (n.back && loops.includes(n.loop!)) return true;
      if (n.loop) loops.push(n.loop);
      const ok = n.outs.every(walk);
      if (n.loop) loops.pop();
      return ok;
    };
    return walk(from);
  };
  return deterministicFrom(entry) && chars.every((c) => deterministicFrom(c.next));
}

/** Lookarounds inside a repeated body re-run at every iteration: the characters they read, per character the body reads. */
function lookWeight(node: AST.Node, flags: ReadonlyFlags): number {
  let extra = 0;
  const scan = (n: AST.Node): void => {
    if (n.type === 'Assertion' && (n.kind === 'lookahead' || n.kind === 'lookbehind')) {
      for (const alt of n.alternatives) extra += Math.max(1, summarize(alt, flags).max);
      return;
    }
    children(n).forEach(scan);
  };
  scan(node);
  return 1 + extra;
}

// ---- layer 3: cost -------------------------------------------------------------------------------

function charSetOf(el: AST.Character | AST.CharacterClass | AST.CharacterSet, flags: ReadonlyFlags): CharSet {
  return analysisLibs().rea.toCharSet(el as Parameters<typeof toCharSet>[0], flags);
}

/** The union of every character the node can consume, and its min/max length (max capped). */
function summarize(node: AST.Node, flags: ReadonlyFlags): { set: CharSet | null; min: number; max: number } {
  switch (node.type) {
    case 'Character':
    case 'CharacterClass':
    case 'CharacterSet':
      return { set: charSetOf(node, flags), min: 1, max: 1 };
    case 'Quantifier': {
      const s = summarize(node.element, flags);
      return { set: s.set, min: s.min * node.min, max: node.max === Infinity || s.max === Infinity ? (s.max === 0 ? 0 : Infinity) : s.max * node.max };
    }
    case 'Group':
    case 'CapturingGroup':
    case 'Pattern': {
      let set: CharSet | null = null;
      let min = Infinity;
      let max = 0;
      for (const alt of node.alternatives) {
        const s = summarize(alt, flags);
        if (s.set) set = set ? set.union(s.set) : s.set;
        min = Math.min(min, s.min);
        max = Math.max(max, s.max);
      }
      return { set, min: min === Infinity ? 0 : min, max };
    }
    case 'Alternative': {
      let set: CharSet | null = null;
      let min = 0;
      let max = 0;
      for (let i = 0; i < node.elements.length; i++) {
        const el = node.elements[i]!;
        const next = node.elements[i + 1];
        const narrowed = next && isSingleChar(next) ? lookNarrowed(el, charSetOf(next, flags), flags) : null;
        if (narrowed) {
          // `(?!\.)[^/]` reads one character of `[^/.]`.
          set = set ? set.union(narrowed) : narrowed;
          min += 1;
          max += 1;
          i++;
          continue;
        }
        const s = summarize(el, flags);
        if (s.set) set = set ? set.union(s.set) : s.set;
        min += s.min;
        max += s.max;
      }
      return { set, min, max };
    }
    case 'Backreference':
      // Refused by the structure layer; what one reads cannot be summarized either.
      throw new Unsafe(`the cost of back-reference \`${node.raw}\` cannot be estimated`, node.start);
    default:
      return { set: null, min: 0, max: 0 };
  }
}

/**
 * A lookahead that tests one character, followed by one character: `(?!X)C` reads one character of C
 * outside X, `(?=X)C` one of C inside X (X single characters or classes, possibly alternated). Exact.
 */
function lookNarrowed(el: AST.Element, next: CharSet, flags: ReadonlyFlags): CharSet | null {
  if (el.type !== 'Assertion' || el.kind !== 'lookahead') return null;
  let tested: CharSet | null = null;
  for (const alt of el.alternatives) {
    const only = alt.elements.length === 1 ? alt.elements[0]! : null;
    if (!only || !isSingleChar(only)) return null;
    const c = charSetOf(only, flags);
    tested = tested ? tested.union(c) : c;
  }
  if (!tested) return null;
  return el.negate ? next.without(tested) : next.intersect(tested);
}

/** Expands alternations into linear paths of items. */
function expand(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, n: number, mergeRuns: boolean): Item[][] {
  const paths: Item[][] = [];
  for (const alt of alternatives) {
    let current: Item[][] = [[]];
    for (const el of mergeRuns ? deterministicRuns(alt.elements, flags, n) : alt.elements) {
      const at = 't' in el ? (el.t === 'loop' ? el.at : 0) : el.start;
      let parts = 't' in el ? [[el]] : expandElement(el, flags, n, mergeRuns);
      if (!('t' in el) && parts.length > 1 && current.length * parts.length > MAX_PATHS) parts = [merged(el, parts, flags, n)];
      if (parts.length === 1) {
        for (const path of current) path.push(...parts[0]!);
      } else {
        current = current.flatMap((path) => parts.map((part) => [...path, ...part]));
      }
      if (current.length > MAX_PATHS) throw new Unsafe('too many alternatives to analyse', at);
      if (current.length * (current[0]?.length ?? 0) > MAX_ITEMS) throw new Unsafe('the regex is too large to analyse', at);
    }
    paths.push(...current);
    if (paths.length > MAX_PATHS) throw new Unsafe('too many alternatives to analyse', alt.start);
  }
  return paths;
}

/** A group holding only one element is that element (path-to-regexp writes `(?:[^\/#\?]+?)`). */
function unwrap(e: AST.Element): AST.Element {
  while ((e.type === 'Group' || e.type === 'CapturingGroup') && e.alternatives.length === 1 && e.alternatives[0]!.elements.length === 1) {
    e = e.alternatives[0]!.elements[0]!;
  }
  return e;
}

const isRepetition = (el: AST.Element): boolean => {
  const e = unwrap(el);
  return e.type === 'Quantifier' && e.max > 1;
};

/**
 * Adjacent repetitions whose sequence is deterministic (`deterministic`: at every point at most one way
 * can read the next character), at least one of them unbounded, are one repetition over the union of
 * their characters: `[\w-]+(?:\.[\w-]+)*` behaves as `[\w.-]+`, `\d+ +` as `[\d ]+`. The argument is
 * `deterministicIterations`': the engine reaches each position of the run in at most one state, and can
 * leave the run at most once per position. Costing them one by one would count the second as starting
 * anywhere inside the first (`[\w-]+` can give back characters), which it cannot: the characters it
 * gives back cannot start the second. Elements are returned as they are, merged runs as loop items.
 */
function deterministicRuns(elements: readonly AST.Element[], flags: ReadonlyFlags, n: number): (AST.Element | Item)[] {
  const out: (AST.Element | Item)[] = [];
  for (let i = 0; i < elements.length; ) {
    let j = i + 1;
    if (isRepetition(elements[i]!)) {
      while (j < elements.length && j - i < MAX_RUN && isRepetition(elements[j]!) && deterministic(elements.slice(i, j + 1), flags)) j++;
    }
    const run = elements.slice(i, j);
    const sums = run.map((e) => summarize(e, flags));
    if (run.length > 1 && sums.some((x) => x.max === Infinity || x.max - x.min > BOUNDED_SPREAD)) {
      let set: CharSet | null = null;
      for (const x of sums) if (x.set) set = set ? set.union(x.set) : x.set;
      const last = lastChars(run, flags);
      if (set && last) {
        out.push({
          t: 'loop',
          set,
          last,
          // Only a single repetition of an all-matching set is sure to run to the end of the input.
          all: false,
          nullable: sums.every((x) => x.min === 0),
          unbounded: true,
          spread: n,
          maxLen: n,
          weight: Math.max(...run.map((e) => lookWeight(e, flags))),
          at: run[0]!.start,
          text: run.map((e) => e.raw).join(''),
        });
        i = j;
        continue;
      }
    }
    out.push(...run);
    i = j;
  }
  return out;
}

/**
 * When the paths would multiply past MAX_PATHS, an element whose ways hold no unbounded repetition (many
 * optional parts, as in user-agent regexes) is charged as one bounded repetition instead: the union of
 * its characters, its longest text, and as many ways as it has paths (each with its bounded
 * repetitions' spreads). That is the conservative side of costing its paths one by one: a bounded
 * repetition in a path is charged for reading its longest text at every attempt, multiplies the ways by
 * its spread (the paths did that by being separate), and its union set can only be swallowed by, and
 * overlap with, more of the repetitions around it. An element with an unbounded repetition is not merged.
 */
function merged(el: AST.Element, parts: readonly Item[][], flags: ReadonlyFlags, n: number): Item[] {
  const s = summarize(el, flags);
  let spread = 0;
  let unbounded = false;
  for (const part of parts) {
    let ways = 1;
    for (const it of part) {
      if (it.t === 'look') throw new Unsafe('too many alternatives to analyse', el.start);
      if (it.t === 'loop' && it.unbounded) unbounded = true;
      if (it.t === 'loop') ways *= it.spread;
    }
    spread += ways;
  }
  if (!s.set) throw new Unsafe('too many alternatives to analyse', el.start);
  if (unbounded || !Number.isFinite(s.max)) {
    // An element with unbounded repetitions (`(\.[0-9]+)?(e[+-]?[0-9]+)?` many times over) merges only when
    // it is deterministic: then it is one repetition over the union of its characters, for the reason
    // `deterministicRuns` gives.
    const last = lastOf(el, flags);
    if (!last || !deterministic([el], flags)) throw new Unsafe('too many alternatives to analyse', el.start);
    return [{ t: 'loop', set: s.set, last, all: false, nullable: s.min === 0, unbounded: true, spread: n, maxLen: n, weight: lookWeight(el, flags), at: el.start, text: el.raw }];
  }
  return [{ t: 'loop', set: s.set, last: s.set, all: s.set.isAll, nullable: s.min === 0, unbounded: false, spread, maxLen: s.max, weight: 1, at: el.start, text: el.raw }];
}

function expandElement(el: AST.Element, flags: ReadonlyFlags, n: number, mergeRuns: boolean): Item[][] {
  switch (el.type) {
    case 'Character':
    case 'CharacterClass':
    case 'CharacterSet':
      return [[{ t: 'char', set: charSetOf(el, flags) }]];
    case 'Group':
    case 'CapturingGroup': {
      // An alternation of distinct single characters is just a character class. Alternatives that can
      // read the same character are two ways each (`(?:a|a)` twenty times over is 2^20 ways), kept apart.
      const single = el.alternatives.every((a) => a.elements.length === 1 && isSingleChar(a.elements[0]!));
      if (single && el.alternatives.length > 1) {
        const sets = el.alternatives.map((a) => charSetOf(a.elements[0] as AST.Character | AST.CharacterClass | AST.CharacterSet, flags));
        if (sets.every((x, i) => sets.every((y, j) => j <= i || x.isDisjointWith(y)))) {
          return [[{ t: 'char', set: sets.reduce((a, b) => a.union(b)) }]];
        }
      }
      return expand(el.alternatives, flags, n, mergeRuns);
    }
    case 'Assertion':
      if (el.kind === 'lookahead') return [[{ t: 'look', cost: costOf(el.alternatives, flags, n, false) }]];
      if (el.kind === 'lookbehind') return [[{ t: 'look', cost: costOf(el.alternatives, flags, n, false, true) }]];
      // `\b` and `\B` are tests the engine makes at every position it reaches: a repetition before one
      // is no longer the end of the match (it backtracks through its run looking for a boundary).
      if (el.kind === 'word') return [[{ t: 'look', cost: 1 }]];
      // `^` and `$` only hold at the ends of the (anchored, single-line) input. A `$` inside a lookaround
      // anchors it: `(?=a+a+a+$)` is as cubic as `a+a+a+` anchored, not a search that ends at once.
      return [[{ t: el.kind }]];
    case 'Quantifier': {
      if (el.max === 1) {
        // `X?` is the alternation `X|` (and `X{1}` is X): exact, even when X holds repetitions.
        const once = expandElement(el.element, flags, n, mergeRuns);
        return el.min === 1 ? once : [...once, []];
      }
      const written = boundedExpansion(el, flags, n, mergeRuns);
      return written ?? [expandQuantifier(el, flags, n, mergeRuns)];
    }
    case 'Backreference':
      // Refused by the structure layer; the cost of one cannot be estimated either.
      throw new Unsafe(`the cost of back-reference \`${el.raw}\` cannot be estimated`, el.start);
    default:
      throw new Unsafe(`unsupported regex syntax \`${el.raw}\``, el.start);
  }
}

/** A bounded repetition of a group is written out as its paths when there are at most this many. */
const MAX_EXPANDED_PATHS = 256;

/**
 * The paths of a bounded repetition `X{m,n}` of a group, written out: for each count k from m to n, every
 * choice of a way through each of the k copies (X{1,2} is X | XX). These are exactly the ways the engine
 * can take through it, so the path costs account for whatever the copies do to each other, ambiguity
 * included: `(.*a){3}` is costed as `.*a.*a.*a`, and `((a|b)c|a.){2}` as its 9 paths. Null when the
 * repetition is not of that kind or has more than MAX_EXPANDED_PATHS paths (it is then one loop item,
 * and the structure layer must have proved its iterations unambiguous).
 */
function boundedExpansion(q: AST.Quantifier, flags: ReadonlyFlags, n: number, mergeRuns: boolean): Item[][] | null {
  if (q.max === Infinity || q.max > BOUNDED_SPREAD || q.max < 2 || isSingleChar(q.element)) return null;
  if (q.element.type !== 'Group' && q.element.type !== 'CapturingGroup') return null;
  let once: Item[][];
  try {
    once = expandElement(q.element, flags, n, mergeRuns);
  } catch (err) {
    if (err instanceof Unsafe) return null;
    throw err;
  }
  let count = 0;
  for (let k = q.min; k <= q.max; k++) count += once.length ** k;
  if (count > MAX_EXPANDED_PATHS) return null;
  const out: Item[][] = [];
  let copies: Item[][] = [[]];
  for (let k = 0; k <= q.max; k++) {
    if (k >= q.min) out.push(...copies);
    if (k < q.max) copies = copies.flatMap((p) => once.map((o) => [...p, ...o]));
  }
  if (out.reduce((sum, p) => sum + p.length, 0) > MAX_ITEMS) return null;
  return out;
}

function expandQuantifier(q: AST.Quantifier, flags: ReadonlyFlags, n: number, mergeRuns: boolean): Item[] {
  const body = summarize(q.element, flags);
  if (!body.set || body.max === 0) {
    // A quantified lookahead or empty group consumes nothing.
    return q.element.type === 'Assertion' ? expandElement(q.element, flags, n, mergeRuns).flat() : [];
  }
  if (q.min === q.max && q.min <= 64) {
    // Exact repetition: `\d{4}` is four characters.
    const once = expandElement(q.element, flags, n, mergeRuns);
    if (once.length === 1) {
      if (once[0]!.length * q.min > MAX_ITEMS) throw new Unsafe('the regex is too large to analyse', q.start);
      return Array.from({ length: q.min }, () => once[0]!).flat();
    }
  }
  // A bounded repetition of a body that is not bounded (`(\w+\.){1,3}`) reads as much as an unbounded one.
  const unbounded = q.max === Infinity || body.max === Infinity || q.max - q.min > BOUNDED_SPREAD;
  const spread = unbounded ? n : (q.max - q.min + 1) * Math.max(1, body.max - body.min + 1);
  return [
    {
      t: 'loop',
      set: body.set,
      last: lastOf(q.element, flags) ?? body.set,
      all: body.set.isAll,
      nullable: q.min === 0 || body.min === 0,
      unbounded,
      spread,
      maxLen: unbounded ? n : body.max * q.max,
      weight: lookWeight(q.element, flags),
      at: q.start,
      text: q.raw,
    },
  ];
}

/** Separators longer than this are not searched for a period (the search is quadratic); 1 is assumed. */
const MAX_PERIOD_SEARCH = 256;

/** Smallest shift at which a fixed separator can overlap itself; 1 when it is not a fixed sequence (or too long to search). */
function period(sep: readonly Item[]): number {
  const sets: CharSet[] = [];
  for (const it of sep) {
    if (it.t === 'char') sets.push(it.set);
    else if (it.t === 'loop') return 1;
  }
  // 1 is the conservative answer: every position may start the next repetition.
  if (sets.length === 0 || sets.length > MAX_PERIOD_SEARCH) return 1;
  for (let p = 1; p < sets.length; p++) {
    let overlaps = true;
    for (let j = 0; j + p < sets.length; j++) {
      if (sets[j]!.isDisjointWith(sets[j + p]!)) {
        overlaps = false;
        break;
      }
    }
    if (overlaps) return p;
  }
  return sets.length;
}

/** Mandatory parts of a separator: characters and non-nullable bounded repetitions. */
const mandatory = (sep: readonly Item[]) =>
  sep.filter((it): it is Extract<Item, { set: CharSet }> => it.t === 'char' || (it.t === 'loop' && !it.nullable));

/**
 * Estimated steps for one linear path; `anchoredEnd` is false inside lookarounds.
 *
 * Walks the unbounded repetitions Q1, Q2, … of the path keeping two numbers: `starts`, how many distinct
 * text positions the current repetition can start at, and `ways`, how many backtracking paths reach
 * one such position. A repetition's scan costs `ways` × (the text its runs cover): n in total when its
 * runs cannot overlap (the separator before it holds a character it cannot match, as in `/rest/[^/]+`),
 * up to `starts` × n when they can. A repetition whose body re-runs a lookaround at every iteration
 * multiplies the path's cost by its `weight`.
 */
function pathCost(path: readonly Item[], n: number, anchoredEnd: boolean): number {
  let weight = 1;
  for (const it of path) if (it.t === 'loop') weight = Math.max(weight, it.weight);
  return weight * pathSteps(path, n, anchoredEnd);
}

function pathSteps(items: readonly Item[], n: number, anchored: boolean): number {
  // A path that can never match — a `^` after a character, a character after a `$` (`.+.+^`) — has no
  // free end: everything before the failing test backtracks through all its splits.
  let read = false;
  let ended = false;
  let never = false;
  for (const it of items) {
    if (it.t === 'start' && read) never = true;
    if (it.t === 'end') ended = true;
    if ((it.t === 'char' || (it.t === 'loop' && !it.nullable)) && ended) never = true;
    if (it.t === 'char' || it.t === 'loop') read = true;
  }
  const anchoredEnd = anchored || ended;
  const whole = items.filter((it) => it.t !== 'end' && it.t !== 'start');
  if (never) return neverSteps(whole, n);
  // Trailing repetitions that match anything, even nothing (`.*`, `[\s\S]*`), succeed at once wherever
  // they are reached, up to the end: what comes before them ends the match as soon as it is through.
  // Each is a scan of at most n.
  let end = whole.length;
  while (end > 0) {
    const it = whole[end - 1]!;
    if (it.t === 'loop' && it.unbounded && it.all && it.nullable) end--;
    else break;
  }
  const tail = whole.length - end;
  const path = whole.slice(0, end);
  return steps(path, n, anchoredEnd, tail > 0, tail * n);
}

/** A path that always fails: costed anchored, with nothing ending the match at once. */
function neverSteps(path: readonly Item[], n: number): number {
  const noFreeEnd = path.map((it) => (it.t === 'loop' ? { ...it, all: false } : it));
  return steps(noFreeEnd, n, true, false, 0);
}

function steps(path: readonly Item[], n: number, anchoredEnd: boolean, freeEnd: boolean, initial: number): number {
  let cost = initial;
  let ways = 1;
  let starts = 1;
  let disjoint = true; // the runs of the current repetition from distinct starts do not overlap
  let attempts = 1; // how often the current point is tried (for lookarounds)
  let loop: Extract<Item, { t: 'loop' }> | null = null;
  let sep: Item[] = [];
  for (let k = 0; k < path.length; k++) {
    const it = path[k]!;
    if (it.t === 'end' || it.t === 'start') continue;
    if (it.t === 'look') {
      cost += attempts * it.cost;
      continue;
    }
    if (it.t === 'char' || !it.unbounded) {
      if (it.t === 'loop') {
        // Every attempt that reaches a bounded repetition reads up to its longest run (`.{4000}` reads
        // 4,000 characters each time), then its shorter runs are tried in turn; V8 keeps a backtrack
        // point per character of a bounded run, about BOUNDED_READ_COST steps each.
        cost += attempts * it.maxLen * BOUNDED_READ_COST;
        ways *= it.spread;
        attempts *= it.spread;
      }
      sep.push(it);
      continue;
    }
    // An unbounded repetition.
    const endsMatch = k === path.length - 1 && (it.all || !anchoredEnd || freeEnd);
    if (loop === null) {
      cost += endsMatch ? n : ways * n;
    } else {
      const must = mandatory(sep);
      const sepLength = sep.reduce((sum, m) => sum + (m.t === 'loop' ? m.maxLen : 1), 0);
      // Can the previous repetition's run contain the separator? Then it can end at any occurrence of it.
      const swallowable = must.every((m) => !m.set.isDisjointWith(loop!.set));
      const nextStarts = swallowable ? Math.ceil(n / period(sep)) : Math.min(n, starts * (sepLength + 1));
      // Paths that reach one start: from every earlier start when the separator can sit inside the run;
      // otherwise only from runs that end right before the separator: one when runs are disjoint (the
      // separator's own variable parts were already counted into `ways`), every earlier start when not.
      ways *= swallowable || !disjoint ? starts : 1;
      // Runs from distinct starts cannot overlap when the separator holds a character this repetition
      // cannot match — or, with no separator, when the previous repetition's iterations end with such a
      // character (`([\w-]+\.)+[\w-]+`): this one starts only after one, and stops before the next.
      const runsDisjoint = sep.length === 0 ? loop.last.isDisjointWith(it.set) : must.some((m) => m.set.isDisjointWith(it.set));
      const overlapping = !loop.set.isDisjointWith(it.set);
      if (endsMatch) cost += n;
      else if (runsDisjoint) cost += ways * (nextStarts + n);
      // Starts inside the previous run see a character this repetition cannot match: only run ends scan.
      else if (swallowable && !overlapping && sep.length === 0) cost += ways * nextStarts + ways * starts * n;
      else cost += ways * nextStarts * n;
      starts = nextStarts;
      disjoint = runsDisjoint;
    }
    if (endsMatch) return cost;
    loop = it;
    attempts = ways * starts * n;
    sep = [];
  }
  // Without an unbounded repetition the path is linear in its own length; with one, the tries of
  // the text after the last repetition are part of that repetition's scan.
  return loop === null ? cost + attempts : cost;
}

/**
 * The estimate: the smaller of two upper bounds, one costing adjacent repetitions one by one, the other
 * with deterministic runs of them merged into one repetition (`deterministicRuns`). Each is an upper
 * bound on its own, so the smaller is one too; merging is the tighter for `[\w-]+(?:\.[\w-]+)*`, the
 * looser when the merged run's union of characters hides the separators around it (`\d{1,2}\D+`).
 */
/** An estimate this small is not refined further (a hundredth of the budget). */
const CHEAP = COST_BUDGET / 100;

function costOf(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, n: number, anchoredEnd: boolean, backwards = false): number {
  let best = Infinity;
  let failure: unknown = null;
  // A lookbehind is matched backwards, from its right end: its paths are costed reversed, without
  // merged runs (they are deterministic forwards only), and a repetition's last characters are taken
  // to be any of its characters.
  if (backwards) {
    let total = 0;
    for (const path of expand(alternatives, flags, n, false)) {
      // Matched backwards, `^` is where the match must end and `$` where it must start.
      const reversed = path
        .map((it): Item => (it.t === 'loop' ? { ...it, last: it.set } : it.t === 'start' ? { t: 'end' } : it.t === 'end' ? { t: 'start' } : it))
        .reverse();
      total += pathCost(reversed, n, anchoredEnd);
    }
    return total;
  }
  for (const mergeRuns of [false, true]) {
    // A small first estimate is kept as it is: the second pass would cost vetting time for little.
    if (mergeRuns && best <= CHEAP) break;
    try {
      let total = 0;
      for (const path of expand(alternatives, flags, n, mergeRuns)) total += pathCost(path, n, anchoredEnd);
      best = Math.min(best, total);
    } catch (err) {
      if (!(err instanceof Unsafe)) throw err;
      failure = err;
    }
  }
  if (best === Infinity && failure) throw failure;
  return best;
}
