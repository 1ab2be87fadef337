// Vets a rule regex against catastrophic backtracking before it is accepted (SPEC §2, "Every regex is vetted").
//
// V8 matches with a backtracking engine, so a regex is only safe if its worst case on an input at the
// §3 size caps stays small. Three checks, all of which must pass:
//   1. safe-regex2: no nested quantifiers (star height ≤ 1) and at most 25 quantifiers.
//   2. Structure: no back-references; no lookaround inside a repetition; the alternatives of a repeated
//      group must form a prefix code (no alternative can match a prefix of another's text), which is
//      what makes `(a|a)*` and `(a|aa)+` exponential.
//   3. Cost: an upper estimate of the backtracking steps on an input of the capped length. Each
//      top-level path through the alternations is costed separately and the costs added. Along a path,
//      an unbounded quantifier Q(i+1) that follows Q(i) multiplies the work by the number of places the
//      text between them can start inside Q(i)'s run: n / period(separator) when Q(i) can swallow the
//      separator (`.*/rest/.*`: n/5), a constant when it cannot (`[^/]*/x`). Adjacent overlapping
//      quantifiers (`.*.*x`, `.*\s+`) are the separator-free case: n starts. A trailing quantifier that
//      accepts every character ends the match at its first try and adds only n.
// The estimate is conservative (it overestimates some safe shapes) and is compared with a budget
// calibrated on V8: `.*/rest/.*/issue/.*` on an 8 KiB adversarial path is 1.3e7 steps and ~11 ms.
import { RegExpParser, type AST } from '@eslint-community/regexpp';
import { toCharSet, type ReadonlyFlags } from 'regexp-ast-analysis';
import safeRegex from 'safe-regex2';

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

/** The verdict on one regex. */
export type SafetyVerdict = { ok: true; cost: number } | { ok: false; message: string; index: number };

/** One step of a linearized path through the regex. */
type Item =
  | { t: 'char'; set: CharSet }
  /** A repetition; `unbounded` ones drive the cost, bounded ones multiply the paths by `spread`. */
  | { t: 'loop'; set: CharSet; all: boolean; nullable: boolean; unbounded: boolean; spread: number; maxLen: number; at: number; text: string }
  | { t: 'look'; cost: number };

class Unsafe extends Error {
  constructor(message: string, readonly index: number) {
    super(message);
  }
}

const parser = new RegExpParser({ ecmaVersion: 2025 });

/**
 * Decides whether `source` is safe to evaluate on inputs up to `maxInput` characters.
 * `caseInsensitive` widens character sets the way the `i` flag does (the conservative choice).
 */
export function vetRegex(source: string, maxInput: number, caseInsensitive = true): SafetyVerdict {
  let pattern: AST.Pattern;
  try {
    pattern = parser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return { ok: false, message: 'the regex uses syntax the safety analysis cannot read', index: 0 };
  }
  const flags: ReadonlyFlags = { dotAll: true, ignoreCase: caseInsensitive };
  try {
    checkStructure(pattern, flags);
    if (!safeRegex(withoutOptionals(source, pattern))) {
      throw new Unsafe('nested quantifiers or more than 25 quantifiers (rejected by safe-regex2)', 0);
    }
    const cost = costOf(pattern.alternatives, flags, maxInput, true);
    if (cost > COST_BUDGET) {
      throw new Unsafe(
        `its worst case on a ${maxInput}-character input is about ${cost.toExponential(1)} backtracking steps ` +
          `(the budget is ${COST_BUDGET.toExponential(1)}); quantifiers that can match the same text in ` +
          `several ways multiply — use [^/]* for one path segment instead of .*`,
        0,
      );
    }
    return { ok: true, cost };
  } catch (err) {
    if (err instanceof Unsafe) return { ok: false, message: err.message, index: err.index };
    throw err;
  }
}

// ---- structure -------------------------------------------------------------------------------

/**
 * The source with every optional quantifier (`X?`, `X??`, `X{0,1}`) written as the equivalent `(?:X|)`.
 * safe-regex2 counts `?` as a repetition, so it would reject `-?\d+(\.\d+)?` and `(/\d+)?` for a
 * "star height" of 2 that an optional group cannot have. The rewrite matches the same strings; nesting
 * that really repeats (`(a?)*`, `(a+)+`) is still nested after it, and is also caught by the checks here.
 */
function withoutOptionals(source: string, node: AST.Node): string {
  // The outermost optional quantifiers below `node`, in source order.
  const optionals: AST.Quantifier[] = [];
  const visit = (n: AST.Node): void => {
    if (n.type === 'Quantifier') {
      if (n.max === 1) optionals.push(n);
      else visit(n.element);
    } else if (n.type === 'Alternative') n.elements.forEach(visit);
    else if (n.type === 'Group' || n.type === 'CapturingGroup' || n.type === 'Pattern') n.alternatives.forEach(visit);
    else if (n.type === 'Assertion' && (n.kind === 'lookahead' || n.kind === 'lookbehind')) n.alternatives.forEach(visit);
  };
  if (node.type === 'Quantifier') visit(node.element);
  else visit(node);
  let out = '';
  let at = node.start;
  for (const q of optionals) {
    out += `${source.slice(at, q.start)}(?:${withoutOptionals(source, q.element)}|)`;
    at = q.end;
  }
  return out + source.slice(at, node.end);
}

function checkStructure(pattern: AST.Pattern, flags: ReadonlyFlags): void {
  const visit = (node: AST.Node, insideRepeat: boolean): void => {
    switch (node.type) {
      case 'Backreference':
        throw new Unsafe(`back-reference \`${node.raw}\` (back-references can take exponential time)`, node.start);
      case 'Quantifier': {
        const repeats = node.max > 1;
        if (repeats && node.element.type !== 'Character' && node.element.type !== 'CharacterSet' && node.element.type !== 'CharacterClass') {
          checkPrefixCode(node, flags);
        }
        visit(node.element, insideRepeat || repeats);
        return;
      }
      case 'Assertion':
        if (node.kind === 'lookahead' || node.kind === 'lookbehind') {
          if (insideRepeat) throw new Unsafe(`lookaround \`${node.raw}\` inside a repetition`, node.start);
          for (const alt of node.alternatives) visit(alt, insideRepeat);
        }
        return;
      case 'Alternative':
        for (const el of node.elements) visit(el, insideRepeat);
        return;
      case 'Group':
      case 'CapturingGroup':
      case 'Pattern':
        for (const alt of node.alternatives) visit(alt, insideRepeat);
        return;
      default:
        return;
    }
  };
  visit(pattern, false);
}

/** Fixed-length character-set sequences of a repeated group's body, one per way through it. */
function bodySequences(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, at: number): CharSet[][] {
  const out: CharSet[][] = [];
  for (const alt of alternatives) {
    let seqs: CharSet[][] = [[]];
    for (const el of alt.elements) {
      let parts: CharSet[][];
      if (el.type === 'Character' || el.type === 'CharacterClass' || el.type === 'CharacterSet') {
        parts = [[charSetOf(el, flags)]];
      } else if (el.type === 'Group' || el.type === 'CapturingGroup') {
        parts = bodySequences(el.alternatives, flags, at);
      } else if (el.type === 'Quantifier' && el.min === el.max && el.min <= 16) {
        const inner = bodySequences([{ elements: [el.element] } as unknown as AST.Alternative], flags, at);
        parts = [[]];
        for (let k = 0; k < el.min; k++) parts = parts.flatMap((p) => inner.map((q) => [...p, ...q]));
      } else if (el.type === 'Assertion' && (el.kind === 'start' || el.kind === 'end' || el.kind === 'word')) {
        continue;
      } else if (el.type === 'Assertion') {
        throw new Unsafe(`lookaround \`${el.raw}\` inside a repetition`, el.start);
      } else {
        // A variable quantifier inside a repetition: safe-regex2 rejects it too, but say why here.
        throw new Unsafe('a repetition inside a repetition (nested quantifiers can take exponential time)', at);
      }
      seqs = seqs.flatMap((s) => parts.map((p) => [...s, ...p]));
      if (seqs.length > MAX_BODY_SEQUENCES) throw new Unsafe('a repeated group with too many alternatives to analyse', at);
    }
    out.push(...seqs);
  }
  return out;
}

/** `(a|a)*`, `(a|aa)+`, `(ab|a)*`: a repeated body that is not a prefix code is ambiguous → exponential. */
function checkPrefixCode(q: AST.Quantifier, flags: ReadonlyFlags): void {
  const el = q.element;
  if (el.type !== 'Group' && el.type !== 'CapturingGroup') return;
  const seqs = bodySequences(el.alternatives, flags, q.start);
  for (let a = 0; a < seqs.length; a++) {
    for (let b = a + 1; b < seqs.length; b++) {
      const [x, y] = seqs[a]!.length <= seqs[b]!.length ? [seqs[a]!, seqs[b]!] : [seqs[b]!, seqs[a]!];
      if (x.every((set, i) => !set.isDisjointWith(y[i]!))) {
        throw new Unsafe(
          `the alternatives of the repeated group \`${q.raw}\` can match the same text in more than one way ` +
            '(this takes exponential time on a mismatch)',
          q.start,
        );
      }
    }
  }
}

// ---- cost ------------------------------------------------------------------------------------

function charSetOf(el: AST.Character | AST.CharacterClass | AST.CharacterSet, flags: ReadonlyFlags): CharSet {
  return toCharSet(el as Parameters<typeof toCharSet>[0], flags);
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
      return { set: s.set, min: s.min * node.min, max: node.max === Infinity ? Infinity : s.max * node.max };
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
      for (const el of node.elements) {
        const s = summarize(el, flags);
        if (s.set) set = set ? set.union(s.set) : s.set;
        min += s.min;
        max += s.max;
      }
      return { set, min, max };
    }
    default:
      return { set: null, min: 0, max: 0 };
  }
}

/** Expands alternations into linear paths of items. */
function expand(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, n: number): Item[][] {
  const paths: Item[][] = [];
  for (const alt of alternatives) {
    let current: Item[][] = [[]];
    for (const el of alt.elements) {
      const parts = expandElement(el, flags, n);
      if (parts.length === 1) {
        for (const path of current) path.push(...parts[0]!);
      } else {
        current = current.flatMap((path) => parts.map((part) => [...path, ...part]));
      }
      if (current.length > MAX_PATHS) throw new Unsafe('too many alternatives to analyse', el.start);
      if (current.length * (current[0]?.length ?? 0) > MAX_ITEMS) throw new Unsafe('the regex is too large to analyse', el.start);
    }
    paths.push(...current);
    if (paths.length > MAX_PATHS) throw new Unsafe('too many alternatives to analyse', alt.start);
  }
  return paths;
}

function expandElement(el: AST.Element, flags: ReadonlyFlags, n: number): Item[][] {
  switch (el.type) {
    case 'Character':
    case 'CharacterClass':
    case 'CharacterSet':
      return [[{ t: 'char', set: charSetOf(el, flags) }]];
    case 'Group':
    case 'CapturingGroup': {
      // An alternation of single characters is just a character class.
      const single = el.alternatives.every((a) => a.elements.length === 1 && a.elements[0]!.type === 'Character');
      if (single && el.alternatives.length > 1) {
        const s = summarize(el, flags);
        if (s.set) return [[{ t: 'char', set: s.set }]];
      }
      return expand(el.alternatives, flags, n);
    }
    case 'Assertion':
      if (el.kind === 'lookahead' || el.kind === 'lookbehind') {
        return [[{ t: 'look', cost: costOf(el.alternatives, flags, n, false) }]];
      }
      // `\b` and `\B` are tests the engine makes at every position it reaches: a repetition before one
      // is no longer the end of the match (it backtracks through its run looking for a boundary).
      if (el.kind === 'word') return [[{ t: 'look', cost: 1 }]];
      // `^` and `$` only hold at the ends of the (anchored, single-line) input.
      return [[]];
    case 'Quantifier':
      if (el.max === 1) {
        // `X?` is the alternation `X|` (and `X{1}` is X): exact, even when X holds repetitions.
        const once = expandElement(el.element, flags, n);
        return el.min === 1 ? once : [...once, []];
      }
      return [expandQuantifier(el, flags, n)];
    case 'Backreference':
      throw new Unsafe('back-reference', el.start);
    default:
      throw new Unsafe(`unsupported regex syntax \`${el.raw}\``, el.start);
  }
}

function expandQuantifier(q: AST.Quantifier, flags: ReadonlyFlags, n: number): Item[] {
  const body = summarize(q.element, flags);
  if (!body.set || body.max === 0) {
    // A quantified lookahead or empty group consumes nothing.
    return q.element.type === 'Assertion' ? expandElement(q.element, flags, n).flat() : [];
  }
  if (q.min === q.max && q.min <= 64) {
    // Exact repetition: `\d{4}` is four characters.
    const once = expandElement(q.element, flags, n);
    if (once.length === 1) {
      if (once[0]!.length * q.min > MAX_ITEMS) throw new Unsafe('the regex is too large to analyse', q.start);
      return Array.from({ length: q.min }, () => once[0]!).flat();
    }
  }
  const unbounded = q.max === Infinity || q.max - q.min > BOUNDED_SPREAD;
  const spread = unbounded ? n : (q.max - q.min + 1) * Math.max(1, body.max - body.min + 1);
  return [
    {
      t: 'loop',
      set: body.set,
      all: body.set.isAll,
      nullable: q.min === 0 || body.min === 0,
      unbounded,
      spread,
      maxLen: unbounded ? n : body.max * q.max,
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
 * up to `starts` × n when they can.
 */
function pathCost(path: readonly Item[], n: number, anchoredEnd: boolean): number {
  let cost = 0;
  let ways = 1;
  let starts = 1;
  let disjoint = true; // the runs of the current repetition from distinct starts do not overlap
  let attempts = 1; // how often the current point is tried (for lookarounds)
  let loop: Extract<Item, { t: 'loop' }> | null = null;
  let sep: Item[] = [];
  for (let k = 0; k < path.length; k++) {
    const it = path[k]!;
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
    const endsMatch = k === path.length - 1 && (it.all || !anchoredEnd);
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
      const runsDisjoint = must.some((m) => m.set.isDisjointWith(it.set));
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

function costOf(alternatives: readonly AST.Alternative[], flags: ReadonlyFlags, n: number, anchoredEnd: boolean): number {
  let total = 0;
  for (const path of expand(alternatives, flags, n)) total += pathCost(path, n, anchoredEnd);
  return total;
}
