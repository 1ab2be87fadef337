// Differential tests of the linear regex engine (src/rules/linear-regex.ts): for every regex it accepts,
// `linearRegex(src, ci).test(s)` must equal `new RegExp('^(?:' + src + ')$', ci ? 'si' : 's').test(s)` for every
// string s. Checked on random strings over the regex's own characters plus tricky ones, and on strings built to
// match (a random walk through the regex's syntax tree, so V8 accepts many of them), in both case modes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegExpParser, type AST } from '@eslint-community/regexpp';
import fc from 'fast-check';
import { LinearRegex, linearRegex, MAX_DFA_CELLS, MAX_DFA_STATES } from '../../../src/rules/linear-regex.js';
import { evaluateRestrictions, parseRestrictions, RestrictionSyntaxError } from '../../../src/index.js';

// ---- helpers -----------------------------------------------------------------------------------

/** Characters where JavaScript's case folding, `.`, `\s`, `\w` or UTF-16 are easy to get wrong. */
const TRICKY = [
  'a', 'A', 'k', 'K', '\u212A', 's', 'S', '\u017F', 'ß', '\u1E9E', 'σ', 'ς', 'Σ', 'µ', 'Μ', 'μ', 'i', 'I', '\u0130', '\u0131',
  '\n', '\r', '\u2028', '\u2029', '\t', ' ', '\u00A0', '\uFEFF', '\0', '_', '0', '9', '-', '.', '/', '\\',
  '\uD83D', '\uDE00', '\uD800', '\uDFFF', '\uFFFF', 'é', 'É', '\u00FF', '\u0178',
];

const parser = new RegExpParser({ ecmaVersion: 2025 });

function v8(source: string, ci: boolean): RegExp {
  return new RegExp(`^(?:${source})$`, ci ? 'si' : 's');
}

function mustCompile(source: string, ci: boolean): LinearRegex {
  const r = linearRegex(source, ci);
  if (!(r instanceof LinearRegex)) throw new Error(`linearRegex refused ${source} (${ci ? 'i' : 'no i'}): ${r.reason}`);
  return r;
}

/** The characters a regex's source names, unescaped where simple, plus {@link TRICKY}. */
function alphabetOf(source: string): string[] {
  const chars = new Set<string>(TRICKY);
  try {
    const visit = (node: AST.Node): void => {
      if (node.type === 'Character') {
        const c = String.fromCharCode(node.value);
        chars.add(c);
        chars.add(c.toUpperCase().length === 1 ? c.toUpperCase() : c);
        chars.add(c.toLowerCase().length === 1 ? c.toLowerCase() : c);
        if (node.value > 0) chars.add(String.fromCharCode(node.value - 1));
        if (node.value < 0xffff) chars.add(String.fromCharCode(node.value + 1));
      }
      for (const key of ['alternatives', 'elements'] as const) if (key in node) (node as unknown as Record<string, AST.Node[]>)[key]!.forEach(visit);
      if ('element' in node) visit(node.element as AST.Node);
      if (node.type === 'CharacterClassRange') {
        visit(node.min);
        visit(node.max);
      }
    };
    visit(parser.parsePattern(source, 0, source.length, { unicode: false }));
  } catch {
    for (const c of source) chars.add(c);
  }
  return [...chars].sort();
}

/**
 * A string built by a random walk through the regex's syntax tree: assertions are skipped, a class yields a
 * random character of the alphabet it matches (checked with V8), a back-reference repeats its group's text.
 * V8 accepts many of them; each is checked both ways anyway.
 */
function walk(source: string, ci: boolean, alphabet: readonly string[], rand: () => number): string | null {
  let pattern: AST.Pattern;
  try {
    pattern = parser.parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    return null;
  }
  const captures = new Map<AST.CapturingGroup, string>();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const oneOf = (raw: string): string => {
    const re = new RegExp(`^${raw}$`, ci ? 'si' : 's');
    const fits = alphabet.filter((c) => re.test(c));
    return fits.length > 0 ? pick(fits) : '';
  };
  let steps = 0;
  const gen = (node: AST.Node): string => {
    if (++steps > 2000) throw new Error('walk too long');
    switch (node.type) {
      case 'Character': {
        const c = String.fromCharCode(node.value);
        return ci && rand() < 0.3 ? (rand() < 0.5 ? c.toUpperCase() : c.toLowerCase()).slice(0, 1) || c : c;
      }
      case 'CharacterClass':
      case 'CharacterSet':
      case 'ExpressionCharacterClass':
        return oneOf(node.raw);
      case 'Quantifier': {
        const max = Math.min(node.max, node.min + 3);
        const n = node.min + Math.floor(rand() * (max - node.min + 1));
        let out = '';
        for (let k = 0; k < n; k++) out += gen(node.element);
        return out;
      }
      case 'Alternative':
        return node.elements.map(gen).join('');
      case 'Group':
      case 'Pattern':
        return gen(pick(node.alternatives));
      case 'CapturingGroup': {
        const text = gen(pick(node.alternatives));
        captures.set(node, text);
        return text;
      }
      case 'Backreference': {
        const groups = Array.isArray(node.resolved) ? node.resolved : [node.resolved];
        return groups.map((g) => captures.get(g) ?? '').join('');
      }
      default:
        return ''; // assertions
    }
  };
  try {
    return gen(pattern);
  } catch {
    return null;
  }
}

/** Checks `linear` against V8 on `runs` random strings and `samples` walked ones; returns how many V8 accepted. */
function differential(source: string, ci: boolean, linear: LinearRegex, runs: number, samples: number, seed: number): number {
  const re = v8(source, ci);
  const alphabet = alphabetOf(source);
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 14 }), (chars) => {
      const s = chars.join('');
      return linear.test(s) === re.test(s);
    }),
    { numRuns: runs, seed },
  );
  let state = seed >>> 0 || 1;
  const rand = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  let accepted = 0;
  for (let k = 0; k < samples; k++) {
    const s = walk(source, ci, alphabet, rand);
    if (s === null) continue;
    const expected = re.test(s);
    if (expected) accepted++;
    if (linear.test(s) !== expected) throw new Error(`${source} (${ci ? 'i' : 'no i'}) on ${JSON.stringify(s)}: V8 says ${expected}`);
    // A one-character edit of an accepted string is a near miss, which tests the edges of the automaton.
    if (expected && s.length > 0) {
      const at = Math.floor(rand() * s.length);
      const edits = [s.slice(0, at) + s.slice(at + 1), s.slice(0, at) + alphabet[Math.floor(rand() * alphabet.length)]! + s.slice(at + 1), s + s[at]];
      for (const e of edits) {
        if (linear.test(e) !== re.test(e)) throw new Error(`${source} (${ci ? 'i' : 'no i'}) on ${JSON.stringify(e)}: V8 says ${re.test(e)}`);
      }
    }
  }
  return accepted;
}

// ---- hand-picked regexes -----------------------------------------------------------------------

/** Regexes the engine must accept and run exactly as V8 does. */
const ACCEPTED: readonly string[] = [
  // case folding (non-unicode: V8 folds with toUpperCase, never from non-ASCII onto ASCII)
  'k', 'K', '\\u212A', 's', '\\u017F', 'ß', '\\u1E9E', 'σ', 'Σ', 'ς', 'µ', '[a-z]+', '[A-Z]', '[k-s]', '[^a]', '[^a]*', '[^k]+', '\\W', '\\W+',
  '\\w+', '[^\\w]', '[\\u00C0-\\u00FF]+', 'i\\u0130\\u0131', '[^\\W_]+',
  // dot, line terminators, spaces
  '.', '.*', 'a.b', '\\s+', '\\S', '[\\s\\S]', '[^\\n]*', '[^\\r\\n\\u2028\\u2029]+',
  // UTF-16 code units
  '\\uD83D\\uDE00', '\\uD83D.', '[\\uD800-\\uDFFF]', '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]', '[^\\uD800-\\uDFFF]*', '.{2}',
  // escapes, octal-ish, empty classes
  '\\0', '\\cJ', '\\x41', '\\u0041', '\\1', 'a\\2', '\\01', '\\8', '[]', '[^]', 'a[]|b', '[^]*a', '\\d\\D', '\\$', '[\\b]',
  // anchors
  '^a', 'a$', '^a$|b', 'a^', '$a', '(?:^|,)a', 'a(?:$|,)', '(^a|b)+', '(a|^b)*c', '(?:a$|b)+', '(?:/($|[a-z]+))*', '^(^a(^b)?$)',
  '(.*[\\\\/]|^)(.*?)(?:[.]|$)([^.\\s]*$)', '(^\\d{1,3})+(,\\d{1,3})*$',
  // lookaheads: leading, in the middle, in repetitions, negative, with $ inside, nested
  '(?=a)\\w+', '(?!a)\\w+', '(?=.*\\d)(?=.*[a-z]).{3,8}', '(?=a$).*', '(?!a$).*', '(?=^a)\\w+', 'x(?=ab)\\w+', '(?:a(?!b)|b)*',
  '((?=a).)*', '(?:(?!\\.\\.\\.)[^/])+', '(?:a(?!$))*', '(?=(?:a|b(?=c))*$).*', '(?!(?:a|b(?!c))*$).*', '(?=.*ab)(?!.*ba).*',
  '\\d{3}(?!\\d)\\d*', 'a(?=b)b|c',
  // lookbehinds, nested lookbehinds, ^ in them
  '(?<=a)b|a.', '.(?<=a)b', '\\w+(?<!s)', '(?<!a(?<=ba))b', '.(?<=^a)b', '(?<!^)a*', '.*(?<=ab)', '(?:.(?<!a))*', 'a(?<=a$)',
  // word boundaries: ASCII \w only, even with i
  'a\\bb', '\\ba\\w*\\b', 'a\\B.', '(?!a)\\w\\b', '\\bk\\b', '.\\b.', '.\\B.', '\\b', '\\B', '\\u017F\\b', '.\\b\\u212A', '(?:\\b.)*', '(?<=\\W)k|\\Bs',
  // back-references to small groups
  '([./-])\\d\\1', '(a|b)\\1', '(a)|\\1b', '\\1(a)', '(a|bc)x\\1', '(?<n>x)\\k<n>', '(a)(?=b)\\1',
  // laziness, counted repetitions, nested groups, empty branches
  'a*?b', '(a+?)+?b', 'a{2,4}', 'a{0}b', '(?:ab){1,3}c?', '((a|b)c){2}', '(|a)+', '(?:a||b)*', '(a*)*b', '(?:a|)', '|', '',
];

describe('linearRegex agrees with V8 on hand-picked regexes', () => {
  for (const ci of [false, true]) {
    test.each(ACCEPTED.map((s, k) => [s, k]))(`%j (${ci ? 'with' : 'without'} i)`, (source, k) => {
      const linear = mustCompile(source as string, ci);
      differential(source as string, ci, linear, 400, 150, 1000 + (k as number) * 2 + (ci ? 1 : 0));
    });
  }

  test('the walk finds strings V8 accepts for most regexes (positive samples are really tested)', () => {
    let withPositives = 0;
    for (const source of ACCEPTED) {
      if (differential(source, false, mustCompile(source, false), 1, 40, 7) > 0) withPositives++;
    }
    expect(withPositives).toBeGreaterThan(ACCEPTED.length * 0.8);
  });

  test('specific verdicts: case folding, dot, surrogates, word boundaries, lookarounds', () => {
    const cases: [string, boolean, string, boolean][] = [
      ['k', true, '\u212A', false],
      ['\\u212A', true, 'k', false],
      ['s', true, '\u017F', false],
      ['ß', true, '\u1E9E', false],
      ['σ', true, 'Σ', true],
      ['σ', true, 'ς', true], // both upper-case to Σ
      ['(a)|\\1b', false, 'b', true],
      ['[^a]', true, 'A', false],
      ['\\W', true, '\u017F', true],
      ['\\W', true, '\u212A', true],
      ['.', false, '\n', true],
      ['.', false, '\u2028', true],
      ['.', false, '\uD83D\uDE00', false],
      ['..', false, '\uD83D\uDE00', true],
      ['[\\uD800-\\uDFFF]', false, '\uDE00', true],
      ['\\1', false, '\u0001', true],
      ['\\cJ', false, '\n', true],
      ['[]', false, '', false],
      ['[^]', false, '\n', true],
      ['a\\b', true, 'a', true],
      ['\\u017F\\b', true, '\u017F', false],
      ['(?=a$).*', false, 'a', true],
      ['(?=a$).*', false, 'ab', false],
      ['x(?=ab)\\w+', false, 'xab', true],
      ['x(?=ab)\\w+', false, 'xa', false],
      ['(?<!^)a*', false, '', false],
      ['(?<!^)a*', false, 'a', false],
      ['(?:/($|[a-z]+))*', false, '/', true],
      ['(?:/($|[a-z]+))*', false, '//', false],
    ];
    for (const [source, ci, text, expected] of cases) {
      expect([source, ci, text, v8(source, ci).test(text)]).toEqual([source, ci, text, expected]);
      expect([source, ci, text, mustCompile(source, ci).test(text)]).toEqual([source, ci, text, expected]);
    }
  });
});

// ---- the benign corpus -------------------------------------------------------------------------

interface CorpusEntry {
  source: string;
  flags?: string;
  before: string;
}
const corpus = (JSON.parse(readFileSync(join(__dirname, '../../../bench/data/benign-regexes.json'), 'utf8')) as { regexes: CorpusEntry[] }).regexes;

describe('linearRegex agrees with V8 on the accepted regexes of the benign corpus', () => {
  const accepted = corpus.filter((r) => r.before === 'accepted');
  // Every other regex (about 3,200), in its own case mode; the refusals are counted, not tested.
  const chosen = accepted.filter((_, k) => k % 2 === 0);
  test(`${chosen.length} regexes`, () => {
    let compiled = 0;
    let positives = 0;
    chosen.forEach((entry, k) => {
      const ci = (entry.flags ?? '').includes('i');
      const r = linearRegex(entry.source, ci);
      if (!(r instanceof LinearRegex)) {
        expect(r.reason).toMatch(/^(the linear engine cannot run|its automaton needs|the regex)/);
        return;
      }
      compiled++;
      if (differential(entry.source, ci, r, 25, 12, 50_000 + k) > 0) positives++;
    });
    expect(compiled).toBeGreaterThan(chosen.length * 0.9);
    expect(positives).toBeGreaterThan(compiled * 0.5);
  });
});

// ---- refusals ----------------------------------------------------------------------------------

describe('linearRegex refuses what it cannot run exactly', () => {
  const refused = (source: string, ci = false): string => {
    const r = linearRegex(source, ci);
    if (r instanceof LinearRegex) throw new Error(`accepted ${source}`);
    expect(r.reason.length).toBeGreaterThan(10);
    return r.reason;
  };

  test('a lookbehind (or \\b, or a ^ not decided) inside a lookahead', () => {
    expect(refused('a(?=b(?<=b))b')).toMatch(/lookbehind.*inside a lookahead/);
    expect(refused('a(?=\\bb)b')).toMatch(/inside a lookahead/);
    expect(refused('a*(?=^b).*')).toMatch(/inside a lookahead/);
  });

  test('a lookahead (or \\b, or a $ not decided) inside a lookbehind', () => {
    expect(refused('a(?<=a(?=b))b')).toMatch(/lookahead.*inside a lookbehind/);
    expect(refused('a(?<!a$)b?')).toMatch(/inside a lookbehind/);
  });

  test('a back-reference to a group of many words', () => {
    expect(refused('(\\d{3})-\\1')).toMatch(/back-reference to a group of many words/);
    expect(refused('(\\w+)\\s+\\1')).toMatch(/back-reference/);
  });

  test('a back-reference inside a lookaround or to a group in one', () => {
    expect(refused('(a)(?=\\1)a')).toMatch(/back-reference inside a lookaround/);
    expect(refused('(?!(a))\\1b')).toMatch(/back-reference inside a lookaround/);
    expect(refused('(?<=(a))\\1')).toMatch(/back-reference inside a lookaround/);
  });

  test('a group with modifiers, and syntax JavaScript without u rejects', () => {
    expect(refused('(?i:a)b')).toMatch(/modifiers/);
    expect(refused('a{2,1}')).toMatch(/syntax/);
    expect(refused('(')).toMatch(/syntax/);
  });

  test('automata over the size limits', () => {
    // The k-th character from the end: 2^(k+1) states.
    expect(refused('[ab]*a[ab]{11}')).toBe(`its automaton needs more than ${MAX_DFA_STATES} states`);
    expect(refused('(?=[ab]*a[ab]{11}$).*')).toMatch(/more than \d+ states|configurations/);
    expect(refused('a{1,20000}')).toMatch(/states|too large/);
    // Many states times many classes of characters.
    const wide = linearRegex(`(?:${Array.from({ length: 60 }, (_, k) => String.fromCharCode(0x100 + k * 2)).join('|')})*[\\u0100-\\u017F]{40}`, false);
    if (!(wide instanceof LinearRegex)) expect(wide.reason).toMatch(new RegExp(`needs (\\d+ table cells \\(the limit is ${MAX_DFA_CELLS}\\)|more than)`));
    else expect(wide.cells).toBeLessThanOrEqual(MAX_DFA_CELLS);
  });

  test('the table reports its size', () => {
    const r = mustCompile('[a-c]+x', false);
    expect(r.states).toBeGreaterThan(1);
    expect(r.cells).toBe(r.states * Math.round(r.cells / r.states));
  });
});

describe('an anchor beside a back-reference (found in review)', () => {
  // regexp-ast-analysis reads a lone back-reference as never empty, though (b?)\1 can read nothing: the
  // anchor was settled as "never", which a negative lookaround turned into "always".
  test.each([
    ['(b?)\\1(?!^)(?:a+)+', ['a', 'aa', 'bba', '']],
    ['(?<!$)(b?)\\1(?:a|a)*', ['', 'a', 'bb']],
    ['$(a*)\\1', ['', 'a']],
    ['$(a){0,2}\\1', ['', 'a']],
  ])('%s means what V8 means, or is refused', (source, texts) => {
    const linear = linearRegex(source, false);
    const v8 = new RegExp(`^(?:${source})$`, 's');
    const answers = 'reason' in linear ? 'refused' : texts.map((t) => linear.test(t));
    expect(['refused', texts.map((t) => v8.test(t))]).toContainEqual(answers);
  });

  test('the rule of the review no longer admits what V8 refuses', () => {
    let allowed: boolean | 'refused' = 'refused';
    try {
      allowed = evaluateRestrictions(parseRestrictions('/x[QueryParam::v==(b?)\\1(?!^)(?:a+)+]'), { method: 'GET', url: '/x?v=a' }).allowed;
    } catch (err) {
      expect(err).toBeInstanceOf(RestrictionSyntaxError);
    }
    expect(allowed).not.toBe(true);
  });
});
