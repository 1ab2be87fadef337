// Runs in linear time the rule regexes that the static ReDoS analysis cannot prove cheap: each is turned
// into a minimal DFA (refa) and matched by a table walk that reads every character once.
//
// Why not RE2 (re2js): it reads a JavaScript string by code points and has its own `.`, `\s` and `(?i)`,
// so a rule would need translating to mean what JavaScript means, and when its lazy DFA gives up, its NFA
// costs the text length times the program size (a 1,000-instruction program took 245 ms on 4 KiB). refa
// parses JavaScript syntax with JavaScript's semantics (the `s` flag, and `i` as V8 folds case without
// `u`, over UTF-16 code units), and a DFA costs the same per character whatever the regex: only its size
// is bounded here, at parse time.
//
// Lookarounds, word boundaries and `^`/`$` are run exactly (see `compile`): a lookbehind is a DFA of Σ*·B read
// alongside the text, a lookahead an obligation that a DFA of B·Σ* accepts (or rejects) the rest of the text.
// What is refused (then the analysis must accept the regex, or it is `unsafe_regex`): a lookbehind, `\b` or a
// `^` that is not settled inside a lookahead, a lookahead, `\b` or an unsettled `$` inside a lookbehind,
// back-references to groups that match more than a few words (refa writes a back-reference to a small finite
// group out as the words it can repeat), back-references inside lookarounds or to groups inside one or holding
// an assertion, groups with modifiers, and automata over the limits below.
import type { AST, RegExpParser } from '@eslint-community/regexpp';
import type { Alternation, CharSet, Concatenation, DFA, Element, Expression, NoParent, Quantifier } from 'refa';
import type { ReadonlyFlags } from 'regexp-ast-analysis';
import { analysisLibs } from './analysis-libs.js';
import { applyEdits } from './source-edits.js';

/** What evaluation needs of a compiled regex: a full-match test (V8's RegExp, or a {@link LinearRegex}). */
export interface Matcher {
  test(text: string): boolean;
}

/** The most states of a regex's DFA, and of the automata built on the way (each bounds the parse-time work). */
export const MAX_DFA_STATES = 2000;
/** The most cells of a regex's transition table (states × character classes): 256 KiB. */
export const MAX_DFA_CELLS = 65_536;
/** The most nodes refa may create while parsing and building the NFA. */
const MAX_NODES = 10_000;
/** The most configurations (NFA state, trackers, obligations) built or visited for the assertions of one regex. */
const MAX_CONFIGURATIONS = 30_000;
/**
 * The most work one regex's automaton may take to build, in units (see {@link LinearWorkBudget}): each
 * automaton state built counts the states of the automaton it is built from.
 */
export const MAX_UNITS = 1_000_000;

let parser: RegExpParser | undefined;

/** Thrown inside the translation for what a DFA cannot run. */
class Untranslatable extends Error {}

/** The index of the last of `sorted` (ascending, `sorted[0] <= c`) that is at most `c`. */
function lastAtOrBelow(sorted: ArrayLike<number>, c: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid]! <= c) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A regex run as a DFA over UTF-16 code units: `test` is a full match, as `^(?:source)$` with the `s` flag
 * (and `i` when built so) is in V8, in one pass over the text.
 */
export class LinearRegex implements Matcher {
  /** Transition table cells (states × classes): what the regex holds in memory, 4 bytes each. */
  readonly cells: number;
  readonly states: number;
  /** The class of each ASCII code unit. */
  private readonly ascii: Uint16Array;
  /** The first code unit of each class interval above ASCII, ascending, and the class of each. */
  private readonly starts: Uint32Array;
  private readonly classOfStart: Uint16Array;
  private readonly classes: number;
  /** `next[state * classes + class]`, or -1 for the dead state. */
  private readonly next: Int32Array;
  private readonly accepting: Uint8Array;

  /** @internal Use {@link linearRegex}. */
  constructor(dfa: DFA) {
    const nodes = [...dfa.nodes()];
    const index = new Map(nodes.map((n, i) => [n, i]));
    // The code units where some transition changes: every interval between two cuts is one class.
    const cutSet = new Set<number>([0, 128]);
    for (const node of nodes) {
      for (const [range] of node.out.entries()) {
        cutSet.add(range.min);
        if (range.max < 0xffff) cutSet.add(range.max + 1);
      }
    }
    const cuts = [...cutSet].sort((a, b) => a - b);
    // Intervals with the same column in every state share a class; first, one class per interval.
    const intervalOf = (c: number): number => lastAtOrBelow(cuts, c);
    const intervals = cuts.length;
    const column: Int32Array[] = Array.from({ length: intervals }, () => new Int32Array(nodes.length).fill(-1));
    nodes.forEach((node, s) => {
      for (const [range, target] of node.out.entries()) {
        const t = index.get(target)!;
        for (let k = intervalOf(range.min); k < intervals && cuts[k]! <= range.max; k++) column[k]![s] = t;
      }
    });
    const classOfInterval = new Uint16Array(intervals);
    const seen = new Map<string, number>();
    const classColumns: Int32Array[] = [];
    column.forEach((col, k) => {
      const key = col.join(',');
      let c = seen.get(key);
      if (c === undefined) {
        c = classColumns.length;
        seen.set(key, c);
        classColumns.push(col);
      }
      classOfInterval[k] = c;
    });
    this.classes = classColumns.length;
    this.states = nodes.length;
    this.cells = this.states * this.classes;
    this.next = new Int32Array(this.cells);
    classColumns.forEach((col, c) => col.forEach((t, s) => (this.next[s * this.classes + c] = t)));
    this.accepting = new Uint8Array(nodes.map((n) => (dfa.finals.has(n) ? 1 : 0)));
    this.ascii = new Uint16Array(128);
    for (let ch = 0; ch < 128; ch++) this.ascii[ch] = classOfInterval[intervalOf(ch)]!;
    const high = cuts.map((cut, k) => [cut, k] as const).filter(([cut]) => cut >= 128);
    this.starts = new Uint32Array(high.map(([cut]) => cut));
    this.classOfStart = new Uint16Array(high.map(([, k]) => classOfInterval[k]!));
    // The initial state is node 0: refa lists nodes from the initial one.
    if (nodes[0] !== dfa.initial) throw new Error('refa listed the DFA nodes in an unexpected order');
  }

  test(text: string): boolean {
    const { ascii, starts, classOfStart, classes, next } = this;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      let c: number;
      if (ch < 128) c = ascii[ch]!;
      else c = classOfStart[lastAtOrBelow(starts, ch)]!;
      state = next[state * classes + c]!;
      if (state < 0) return false;
    }
    return this.accepting[state] === 1;
  }
}

/**
 * Where in a full match each automaton of a lookaround body is read: `main` is the regex itself; `ahead` is the
 * body of a lookahead, matched against the rest of the text (its own lookaheads and `$` see that same rest,
 * but a lookbehind or `^` in it would look before the lookahead); `behind` is the body of a lookbehind, matched
 * against the text read so far (its own lookbehinds and `^` see that same text, a lookahead or `$` would not).
 */
type Mode = 'main' | 'ahead' | 'behind';

/** A DFA as tables: `out[s]` holds triples (first, last, target); a character with none leads to the dead state. */
interface Table {
  readonly initial: number;
  readonly finals: Uint8Array;
  readonly out: readonly Int32Array[];
  /** Whether a state accepts every text from there on. */
  readonly universal: Uint8Array;
}

function tableOf(dfa: DFA): Table {
  const nodes = [...dfa.nodes()];
  const index = new Map(nodes.map((n, i) => [n, i]));
  const out = nodes.map((node) => {
    const triples: number[] = [];
    for (const [range, target] of node.out.entries()) triples.push(range.min, range.max, index.get(target)!);
    return Int32Array.from(triples);
  });
  const finals = Uint8Array.from(nodes, (n) => (dfa.finals.has(n) ? 1 : 0));
  const universal = Uint8Array.from(out, (t, s) => (finals[s] === 1 && t.length === 3 && t[0] === 0 && t[1] === MAX_CHAR && t[2] === s ? 1 : 0));
  return { initial: index.get(dfa.initial)!, finals, out, universal };
}

/** The state after `ch`, or -1 (dead). */
function step(table: Table, state: number, ch: number): number {
  const triples = table.out[state]!;
  for (let k = 0; k < triples.length; k += 3) if (triples[k]! <= ch && ch <= triples[k + 1]!) return triples[k + 2]!;
  return -1;
}

/** The work of one {@link linearRegex} call, bounded. */
interface Budget {
  configurations: number;
  /** The work of this call, in the units of {@link LinearWorkBudget}. */
  units: number;
  /** The work shared by the calls of one parse, when the caller gives one. */
  readonly shared: LinearWorkBudget | undefined;
}

/**
 * Work shared by several {@link linearRegex} calls (those of one parse): every automaton node and every
 * configuration built counts one unit. When `spent` would pass `limit`, the call refuses its regex.
 * A unit is about 1–3 µs of parse time.
 */
export interface LinearWorkBudget {
  spent: number;
  readonly limit: number;
}

function spend(budget: Budget, units = 1): void {
  budget.units += units;
  if (budget.units > MAX_UNITS) throw new Untranslatable(`a regex whose automaton takes this much work to build (over ${MAX_UNITS} units)`);
  const shared = budget.shared;
  if (shared !== undefined && (shared.spent += units) > shared.limit) {
    throw new Untranslatable(`more regexes of this set: the set's translation work is used up (${shared.limit} units)`);
  }
}

/**
 * A refa node factory that counts each node it creates against the budget: `weight` units each, an upper
 * bound of the states of the automaton it is built from (a DFA state is a set of them, and building its
 * transitions reads theirs).
 */
function counted<N>(inner: { createNode(): N }, budget: Budget, weight: () => number = () => 1): { createNode(): N } {
  return {
    createNode: () => {
      spend(budget, weight());
      return inner.createNode();
    },
  };
}

/** Whether an RE AST holds an assertion. */
function hasAssertion(nodes: readonly NoParent<Concatenation>[]): boolean {
  return nodes.some((c) =>
    c.elements.some((e) => e.type === 'Assertion' || ((e.type === 'Alternation' || e.type === 'Quantifier') && hasAssertion(e.alternatives))),
  );
}

const MAX_CHAR = 0xffff;
const anything = (): NoParent<Quantifier> => ({
  type: 'Quantifier',
  min: 0,
  max: Infinity,
  lazy: false,
  alternatives: [{ type: 'Concatenation', elements: [{ type: 'CharacterClass', characters: analysisLibs().refa.CharSet.all(MAX_CHAR) }] }],
});
const group = (alternatives: NoParent<Concatenation>[]): NoParent<Alternation> => ({ type: 'Alternation', alternatives });

/**
 * The minimal DFA of the full matches of `expression` (read in `mode`). Without assertions refa builds it.
 * With them, an automaton is built whose states are configurations of an NFA of the expression in which every
 * assertion is an ε-edge:
 * - a lookbehind `(?<=B)` (`(?<!B)`) is passable where the text read so far is (is not) in Σ*·B: a DFA of Σ*·B
 *   (a "tracker") reads the whole text alongside, and its state is part of every configuration;
 * - a lookahead `(?=B)` (`(?!B)`) holds where the rest of the text is (is not) a full match of B·Σ* (read as a
 *   lookahead body: a `$` in B is the end of the whole text, so this is not always closed under extension):
 *   passing it adds an obligation, a state of that DFA, which reads on with the configuration and must end in an
 *   accepting (a rejecting) state; it is settled early when the DFA dies or accepts whatever follows.
 * A text is accepted when some configuration reaches the NFA's end with no positive obligation left: exactly
 * when some path through the regex has every assertion on it hold, which is what a backtracking full match
 * tests (the order in which V8 tries paths, laziness, and its rejection of empty iterations change which path it
 * finds, never whether it finds one; captures matter only to back-references, which refa has written out).
 * `^` is `(?<![^])` and `$` is `(?![^])` here, `\b` and `\B` are lookarounds on `\w` (refa's reading).
 */
function compile(expression: NoParent<Expression>, mode: Mode, budget: Budget): DFA {
  const { CharSet, DFA, NFA } = analysisLibs().refa;
  if (!hasAssertion(expression.alternatives)) {
    const nfa = NFA.fromRegex(expression, { maxCharacter: MAX_CHAR }, { assertions: 'throw' }, counted(new NFA.LimitedNodeFactory(MAX_NODES), budget));
    // What building one DFA state may read: the ranges of all the NFA's transitions.
    let nfaRanges = 0;
    for (const node of nfa.nodes()) for (const set of node.out.values()) nfaRanges += set.ranges.length;
    spend(budget, nfaRanges);
    const dfa = DFA.fromFA(nfa, counted(new DFA.LimitedNodeFactory(MAX_DFA_STATES), budget, () => nfaRanges));
    dfa.minimize();
    return dfa;
  }
  // The ε-NFA: `epsilon[q]` are the edges that read nothing (each maybe guarded by a tracker or adding an
  // obligation), `chars[q]` those that read one character.
  const epsilon: { to: number; tracker?: number; holds?: boolean; look?: number }[][] = [];
  const chars: { to: number; set: CharSet }[][] = [];
  const trackers: Table[] = [];
  const looks: { table: Table; negate: boolean }[] = [];
  const newState = (): number => {
    if (epsilon.length >= MAX_NODES) throw new Untranslatable('a regex this large with assertions');
    epsilon.push([]);
    chars.push([]);
    return epsilon.length - 1;
  };
  const alternatives = (alts: readonly NoParent<Concatenation>[], from: number, to: number): void => {
    for (const alt of alts) {
      let at = from;
      alt.elements.forEach((el, k) => {
        const next = k === alt.elements.length - 1 ? to : newState();
        element(el, at, next);
        at = next;
      });
      if (alt.elements.length === 0) epsilon[from]!.push({ to });
    }
  };
  const element = (el: NoParent<Element>, from: number, to: number): void => {
    switch (el.type) {
      case 'CharacterClass':
        if (!el.characters.isEmpty) chars[from]!.push({ to, set: el.characters });
        return;
      case 'Alternation':
        alternatives(el.alternatives, from, to);
        return;
      case 'Quantifier': {
        let at = from;
        for (let k = 0; k < el.min; k++) {
          const next = newState();
          alternatives(el.alternatives, at, next);
          at = next;
        }
        if (el.max === Infinity) {
          const loop = newState();
          epsilon[at]!.push({ to: loop });
          const back = newState();
          alternatives(el.alternatives, loop, back);
          epsilon[back]!.push({ to: loop });
          epsilon[loop]!.push({ to });
        } else {
          for (let k = el.min; k < el.max; k++) {
            epsilon[at]!.push({ to });
            const next = newState();
            alternatives(el.alternatives, at, next);
            at = next;
          }
          epsilon[at]!.push({ to });
        }
        return;
      }
      case 'Assertion':
        if (el.kind === 'behind') {
          if (mode === 'ahead') throw new Untranslatable('a lookbehind, \\b or ^ inside a lookahead');
          const body: NoParent<Expression> = { type: 'Expression', alternatives: [{ type: 'Concatenation', elements: [anything(), group(el.alternatives)] }] };
          trackers.push(tableOf(compile(body, 'behind', budget)));
          epsilon[from]!.push({ to, tracker: trackers.length - 1, holds: !el.negate });
        } else {
          if (mode === 'behind') throw new Untranslatable('a lookahead, \\b or $ inside a lookbehind');
          const body: NoParent<Expression> = { type: 'Expression', alternatives: [{ type: 'Concatenation', elements: [group(el.alternatives), anything()] }] };
          looks.push({ table: tableOf(compile(body, 'ahead', budget)), negate: el.negate });
          epsilon[from]!.push({ to, look: looks.length - 1 });
        }
        return;
      default:
        throw new Untranslatable('an element refa could not resolve');
    }
  };
  const start = newState();
  const end = newState();
  alternatives(expression.alternatives, start, end);

  // A configuration: an NFA state, the trackers' states (the same in all configurations of one DFA state), and
  // the obligations, each `look * 65536 + state`, sorted.
  interface Config {
    readonly q: number;
    readonly trackers: readonly number[];
    readonly obligations: readonly number[];
    readonly final: boolean;
    out?: Map<Config, CharSet>;
  }
  const interned = new Map<string, Config>();
  /** The ranges of every configuration's transitions so far: a bound of what building one DFA state reads. */
  let outRanges = 0;
  const intern = (q: number, trackerStates: readonly number[], obligations: readonly number[]): Config => {
    const key = `${q}|${trackerStates.join(',')}|${obligations.join(',')}`;
    let c = interned.get(key);
    if (c === undefined) {
      spend(budget, 1 + trackers.length + looks.length);
      if (++budget.configurations > MAX_CONFIGURATIONS) throw new Untranslatable('a regex whose assertions need this many configurations');
      const final = q === end && obligations.every((o) => {
        const { table, negate } = looks[Math.floor(o / 65536)]!;
        return table.finals[o % 65536] === (negate ? 0 : 1);
      });
      c = { q, trackers: trackerStates, obligations, final };
      interned.set(key, c);
    }
    return c;
  };
  /** The configurations reachable from `q` without reading, as the ones that can read or end. */
  const closure = (q0: number, trackerStates: readonly number[], obligations0: readonly number[]): Config[] => {
    const result: Config[] = [];
    const seen = new Set<string>();
    const stack: [number, readonly number[]][] = [[q0, obligations0]];
    while (stack.length > 0) {
      const [q, obligations] = stack.pop()!;
      spend(budget, 1 + trackers.length + looks.length);
      if (++budget.configurations > MAX_CONFIGURATIONS) throw new Untranslatable('a regex whose assertions need this many configurations');
      const key = `${q}|${obligations.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (chars[q]!.length > 0 || q === end) result.push(intern(q, trackerStates, obligations));
      for (const e of epsilon[q]!) {
        if (e.tracker !== undefined) {
          const s = trackerStates[e.tracker]!;
          if ((s >= 0 && trackers[e.tracker]!.finals[s] === 1) === e.holds) stack.push([e.to, obligations]);
        } else if (e.look !== undefined) {
          const { table, negate } = looks[e.look]!;
          if (table.universal[table.initial] === 1) {
            if (!negate) stack.push([e.to, obligations]);
          } else {
            const o = e.look * 65536 + table.initial;
            stack.push([e.to, obligations.includes(o) ? obligations : [...obligations, o].sort((a, b) => a - b)]);
          }
        } else stack.push([e.to, obligations]);
      }
    }
    return result;
  };
  /** The obligations after `ch`, or null if one fails. */
  const advance = (obligations: readonly number[], ch: number): number[] | null => {
    const next: number[] = [];
    for (const o of obligations) {
      const look = Math.floor(o / 65536);
      const { table, negate } = looks[look]!;
      const s = step(table, o % 65536, ch);
      if (s < 0) {
        if (negate) continue;
        return null;
      }
      if (table.universal[s] === 1) {
        if (negate) return null;
        continue;
      }
      const o2 = look * 65536 + s;
      if (!next.includes(o2)) next.push(o2);
    }
    return next.sort((a, b) => a - b);
  };
  const outOf = (config: Config): Map<Config, CharSet> => {
    if (config.out) return config.out;
    // The characters are cut where any edge, tracker or obligation changes.
    const cuts = new Set<number>();
    const addCuts = (triples: Int32Array): void => {
      for (let k = 0; k < triples.length; k += 3) {
        cuts.add(triples[k]!);
        cuts.add(triples[k + 1]! + 1);
      }
    };
    config.trackers.forEach((s, t) => s >= 0 && addCuts(trackers[t]!.out[s]!));
    for (const o of config.obligations) addCuts(looks[Math.floor(o / 65536)]!.table.out[o % 65536]!);
    const sorted = [...cuts].sort((a, b) => a - b);
    const ranges = new Map<Config, { min: number; max: number }[]>();
    for (const edge of chars[config.q]!) {
      for (const range of edge.set.ranges) {
        let lo = range.min;
        // the first cut above lo
        let k = 0;
        while (k < sorted.length && sorted[k]! <= lo) k++;
        while (lo <= range.max) {
          const hi = Math.min(range.max, k < sorted.length ? sorted[k]! - 1 : MAX_CHAR);
          const obligations = advance(config.obligations, lo);
          if (obligations !== null) {
            const trackerStates = config.trackers.map((s, t) => (s < 0 ? -1 : step(trackers[t]!, s, lo)));
            for (const target of closure(edge.to, trackerStates, obligations)) {
              let list = ranges.get(target);
              if (list === undefined) ranges.set(target, (list = []));
              list.push({ min: lo, max: hi });
            }
          }
          lo = hi + 1;
          k++;
        }
      }
    }
    const out = new Map<Config, CharSet>();
    for (const [target, list] of ranges) {
      const set = CharSet.empty(MAX_CHAR).union(list);
      outRanges += set.ranges.length;
      out.set(target, set);
    }
    spend(budget, out.size);
    config.out = out;
    return out;
  };
  const firsts = closure(
    start,
    trackers.map((t) => t.initial),
    [],
  );
  const initial: Config = { q: -1, trackers: [], obligations: [], final: firsts.some((c) => c.final) };
  initial.out = new Map();
  for (const c of firsts) {
    for (const [target, set] of outOf(c)) {
      const had = initial.out.get(target);
      initial.out.set(target, had ? had.union(set) : set);
    }
  }
  const dfa = DFA.fromTransitionIterator<Config>(
    { initial, getOut: outOf, isFinal: (c) => c.final, stableOut: true },
    { maxCharacter: MAX_CHAR },
    counted(new DFA.LimitedNodeFactory(MAX_DFA_STATES), budget, () => outRanges),
  );
  dfa.minimize();
  return dfa;
}

/**
 * `source` with each `^` and `$` replaced by what it is in a full match where that is
 * decided: always true where nothing (`^`) or nothing more (`$`) can have been read, never true where something
 * must have been; the others are left to {@link compile}. Refuses what refa would not read as V8 does.
 */
function settleAnchors(pattern: AST.Pattern, source: string, flags: ReadonlyFlags): string {
  const edits: { start: number; end: number; text: string }[] = [];
  const settled = new Set<AST.Node>();
  const backreferences: AST.Backreference[] = [];
  const visit = (node: AST.Node, inLookaround: boolean): void => {
    switch (node.type) {
      case 'Assertion':
        if (node.kind === 'start' || node.kind === 'end') {
          const reading = anchorReading(node, flags);
          if (reading !== undefined) {
            edits.push({ start: node.start, end: node.end, text: reading ? '(?:)' : '[]' });
            settled.add(node);
          }
        } else if (node.kind === 'lookahead' || node.kind === 'lookbehind') node.alternatives.forEach((a) => visit(a, true));
        return;
      case 'Backreference':
        backreferences.push(node);
        return;
      case 'Quantifier':
        visit(node.element, inLookaround);
        return;
      case 'Alternative':
        node.elements.forEach((e) => visit(e, inLookaround));
        return;
      case 'Group':
        if ('modifiers' in node && node.modifiers) throw new Untranslatable('a group with modifiers');
        node.alternatives.forEach((a) => visit(a, inLookaround));
        return;
      case 'CapturingGroup':
      case 'Pattern':
        node.alternatives.forEach((a) => visit(a, inLookaround));
        return;
      default:
        return;
    }
  };
  visit(pattern, false);
  // refa writes a back-reference out as the words of its group; keep to where that is plainly what V8 does.
  const inLookaround = (node: AST.Node): boolean => {
    for (let p = node.parent; p; p = p.parent as AST.Node['parent']) if (p.type === 'Assertion') return true;
    return false;
  };
  const holdsAssertion = (node: AST.Node): boolean => {
    let found = false;
    const walk = (n: AST.Node): void => {
      if (found) return;
      if (n.type === 'Assertion' && !settled.has(n)) found = true;
      else if (n.type === 'Quantifier') walk(n.element);
      else if (n.type === 'Alternative') n.elements.forEach(walk);
      else if (n.type === 'Group' || n.type === 'CapturingGroup' || (n.type === 'Assertion' && (n.kind === 'lookahead' || n.kind === 'lookbehind')))
        n.alternatives.forEach(walk);
    };
    walk(node);
    return found;
  };
  for (const ref of backreferences) {
    const groups = Array.isArray(ref.resolved) ? ref.resolved : [ref.resolved];
    if (inLookaround(ref) || groups.some((g) => inLookaround(g) || holdsAssertion(g)))
      throw new Untranslatable('a back-reference inside a lookaround, or to a group inside one or holding an assertion');
  }
  return applyEdits(source, edits);
}

/** Whether `node` is or holds a back-reference. */
function holdsBackreference(node: AST.Node): boolean {
  let found = false;
  analysisLibs().regexpp.visitRegExpAST(node as AST.Pattern, { onBackreferenceEnter: () => void (found = true) });
  return found;
}

/** Whether a `^` (`$`) always holds in a full match (true), never does (false), or neither. */
function anchorReading(anchor: AST.Assertion, flags: ReadonlyFlags): boolean | undefined {
  const { isPotentiallyZeroLength, isZeroLength } = analysisLibs().rea;
  const start = anchor.kind === 'start';
  let always = true;
  let node: AST.Node = anchor;
  for (let parent = node.parent as AST.Node | null; parent !== null; node = parent, parent = parent.parent as AST.Node | null) {
    if (parent.type === 'Alternative') {
      const k = parent.elements.indexOf(node as AST.Element);
      const side = start ? parent.elements.slice(0, k) : parent.elements.slice(k + 1);
      for (const el of side) {
        // regexp-ast-analysis reads a back-reference to a group outside `el` as never empty, though
        // `(a?)\1` can read nothing: an element that holds one decides nothing here.
        if (holdsBackreference(el)) {
          always = false;
          continue;
        }
        if (!isPotentiallyZeroLength(el, flags)) return false;
        if (!isZeroLength(el, flags)) always = false;
      }
    } else if (parent.type === 'Assertion') {
      // A lookahead's body starts where it stands (so a `^` in it reads as one there), a lookbehind's ends there.
      if (parent.kind !== (start ? 'lookahead' : 'lookbehind')) return undefined;
    } else if (parent.type === 'Quantifier' && parent.max > 1) {
      // A later iteration may follow text read by an earlier one.
      if (!isZeroLength(parent.element, flags)) always = false;
    }
  }
  return always ? true : undefined;
}

/**
 * `source` (JavaScript syntax, matched in full with `s`, and `i` when `caseInsensitive`) as a regex that runs
 * in linear time, or the reason why it cannot be (see the top of this file); at most
 * {@link MAX_DFA_STATES} states and {@link MAX_DFA_CELLS} table cells.
 */
export function linearRegex(source: string, caseInsensitive: boolean, work?: LinearWorkBudget): LinearRegex | { reason: string } {
  const flags: ReadonlyFlags = { dotAll: true, ignoreCase: caseInsensitive };
  const { regexpp, refa } = analysisLibs();
  parser ??= new regexpp.RegExpParser({ ecmaVersion: 2025 });
  try {
    let pattern: AST.Pattern;
    try {
      pattern = parser.parsePattern(source, 0, source.length, { unicode: false });
    } catch {
      return { reason: 'the regex uses syntax the linear engine cannot read' };
    }
    const settled = settleAnchors(pattern, source, flags);
    const { expression, maxCharacter } = refa.JS.Parser.fromLiteral({ source: settled, flags: caseInsensitive ? 'si' : 's' }, { ecmaVersion: 2025 }).parse({
      maxNodes: MAX_NODES,
      backreferences: 'throw',
      assertions: 'parse',
    });
    if (maxCharacter !== MAX_CHAR) throw new Error(`refa read the regex over characters up to ${maxCharacter}`);
    const dfa = compile(expression, 'main', { configurations: 0, units: 0, shared: work });
    const linear = new LinearRegex(dfa);
    if (linear.cells > MAX_DFA_CELLS) return { reason: `its automaton needs ${linear.cells} table cells (the limit is ${MAX_DFA_CELLS})` };
    return linear;
  } catch (err) {
    if (err instanceof Untranslatable) return { reason: `the linear engine cannot run ${err.message}` };
    if (err instanceof Error && /too many nodes|not allowed to create more than/i.test(err.message)) return { reason: `its automaton needs more than ${MAX_DFA_STATES} states` };
    if (err instanceof Error && err.name === 'TooManyNodesError') return { reason: `its automaton needs more than ${MAX_DFA_STATES} states` };
    if (err instanceof RangeError) return { reason: 'the regex is too large for the linear engine' };
    if (err instanceof Error && /backreference|assertion/i.test(err.message)) return { reason: `the linear engine cannot run ${/backreference/i.test(err.message) ? 'a back-reference to a group of many words' : 'an assertion here'}` };
    throw err;
  }
}

export type { CharSet };
