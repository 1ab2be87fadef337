// Property-based tests of request-path canonicalization (SPEC §3.1, §3.2) and its use by evaluation.
import fc from 'fast-check';
import { evaluateRestrictions, parseRestrictions } from '../../../src/index.js';
import { canonicalizePath } from '../../../src/rules/canonical.js';

const RUNS = 2000;

// ---- generators --------------------------------------------------------------------------------

/** Pieces that canonicalization must get right: dots, slashes, escapes of forbidden characters, bad UTF-8. */
const DANGEROUS = [
  '/', '/', '/', '.', '..', '...', '%2e', '%2E', '%2e%2e', '%2f', '%2F', '%5c', '%5C', '%25', '%252e', '%3b', '%3B', '%00', '%0a', '%0D',
  '%1f', '%7f', '%7F', '%20', '%23', '%3f', '%3F', '%c0%ae', '%C0%AF', '%e2%80%ae', '%E2%80%AE', '%c2%80', '%C2%9F', '%c2%a0',
  '%ed%a0%80', '%f0%9f%98%80', '%ff', '%e2%82', '%', '%4', '%zz', '%G0', ';', '\\', 'a', 'B', 'z', '0', '9', '-', '_', '~', '%41',
  '%61', '%7e', '%2d', '\u0000', '\n', '\t', '\u007f', '\u0085', '\u009f', 'é', '\u202e', '😀', '\ud800', ' ', '#', '+', ':', '@',
  '!', '$', '&', "'", '(', ')', '*', ',', '=', '[', ']', '{', '}', '|', '^', '`', '"', '<', '>',
];
const dangerous = fc.array(fc.constantFrom(...DANGEROUS), { maxLength: 24 }).map((p) => p.join(''));

/** Any path-like string: dangerous pieces with and without a leading `/`, random text, random escapes. */
const hexByte = fc.integer({ min: 0, max: 255 }).chain((b) =>
  fc.constantFrom(b.toString(16).padStart(2, '0'), b.toString(16).padStart(2, '0').toUpperCase()).map((h) => `%${h}`),
);
const anyPath = fc.oneof(
  { weight: 4, arbitrary: dangerous.map((s) => `/${s}`) },
  { weight: 1, arbitrary: dangerous },
  { weight: 2, arbitrary: fc.array(fc.oneof(hexByte, fc.constantFrom('/', '.', 'a', '%')), { maxLength: 24 }).map((p) => `/${p.join('')}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `/${s}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
);
const strictOption = fc.constantFrom(undefined, false, true);

/** Safe segments (RFC 3986 unreserved minus `.`) and paths built from them. */
const safeSegment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/);
const safePath = fc.tuple(fc.array(safeSegment, { minLength: 0, maxLength: 6 }), fc.boolean()).map(([segs, trailing]) => ({
  segs,
  trailing,
  raw: `/${segs.join('/')}${trailing && segs.length > 0 ? '/' : ''}`,
}));

// ---- a reference reading of SPEC §3.1 ---------------------------------------------------------

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** SPEC §3.1 as written, with a raw `#` also refused (it can never be part of a request path). */
function referenceAccepts(raw: string): boolean {
  if (Buffer.byteLength(raw, 'utf8') > 8192) return false;
  if (!raw.startsWith('/')) return false;
  if (raw.includes('//')) return false;
  if (raw.split('/').some((seg) => seg === '.' || seg === '..')) return false;
  if (/[\\;#]/.test(raw) || CONTROL.test(raw) || /[^\u0000-\u007f]/.test(raw)) return false;
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return false; // invalid or non-UTF-8 escape
  }
  // Encodes `/ \ ; % .` or a control character.
  for (const m of raw.matchAll(/%([0-9A-Fa-f]{2})/g)) if (/^(?:2[fFeE5]|5[cC]|3[bB])$/.test(m[1]!)) return false;
  if (CONTROL.test(decoded)) return false;
  return true;
}

// ---- properties --------------------------------------------------------------------------------

describe('canonicalizePath (property-based)', () => {
  test('5. an accepted path decodes to a clean absolute path', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(anyPath, strictOption, (raw, strict) => {
        const result = canonicalizePath(raw, strict === undefined ? undefined : { strict });
        if (result.ok) accepted++;
        else rejected++;
        if (!result.ok) {
          expect(result.reason).toBe('ambiguous_path');
          expect(typeof result.message).toBe('string');
          expect(result.message.length).toBeGreaterThan(0);
          return;
        }
        const { path } = result;
        expect(path.startsWith('/')).toBe(true);
        expect(path).not.toContain('//');
        expect(path.split('/').some((seg) => seg === '.' || seg === '..')).toBe(false);
        expect(CONTROL.test(path)).toBe(false);
        expect(path).not.toMatch(/[\\;]/);
        // `%` is never the result of decoding (`%25` is refused), so the path cannot be decoded twice.
        expect(path).not.toContain('%');
        // The raw path had no raw non-ASCII and is within the cap.
        expect(raw).toMatch(/^[\u0000-\u007f]*$/);
        expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(8192);
        // Decoded exactly once; one trailing slash dropped unless strict (the root stays).
        const once = decodeURIComponent(raw);
        const expected = strict !== true && once.length > 1 && once.endsWith('/') ? once.slice(0, -1) : once;
        expect(path).toBe(expected);
      }),
      { numRuns: RUNS },
    );
    // Both sides of the property must be exercised (shrinking runs count too, so only lower bounds).
    expect(accepted).toBeGreaterThan(RUNS / 10);
    expect(rejected).toBeGreaterThan(RUNS / 10);
  });

  test('5b. accepts exactly what a reference reading of SPEC §3.1 accepts', () => {
    fc.assert(
      fc.property(anyPath, strictOption, (raw, strict) => {
        expect(canonicalizePath(raw, strict === undefined ? undefined : { strict }).ok).toBe(referenceAccepts(raw));
      }),
      { numRuns: RUNS },
    );
  });

  test('5c. the 8 KiB cap on the raw path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8000, max: 8400 }), fc.constantFrom('a', '%41', 'ab/'), (n, unit) => {
        const raw = `/${unit.repeat(Math.ceil(n / unit.length))}`.slice(0, n).replace(/%[0-9A-F]?$/, 'x').replace(/\/$/, 'y');
        const result = canonicalizePath(raw);
        expect(result.ok).toBe(raw.length <= 8192);
      }),
      { numRuns: 200 },
    );
  });

  test('6. paths of safe segments are accepted and decode to themselves', () => {
    fc.assert(
      fc.property(safePath, strictOption, ({ segs, trailing, raw }, strict) => {
        const result = canonicalizePath(raw, strict === undefined ? undefined : { strict });
        const expected = strict !== true || !trailing || segs.length === 0 ? `/${segs.join('/')}` : raw;
        expect(result).toEqual({ ok: true, path: expected });
      }),
      { numRuns: RUNS },
    );
  });

  test('6b. percent-encoding any characters of safe segments decodes back to the same path', () => {
    fc.assert(
      fc.property(
        safePath,
        fc.infiniteStream(fc.tuple(fc.boolean(), fc.boolean())),
        strictOption,
        ({ segs, trailing }, choices, strict) => {
          const encodeChar = (c: string): string => {
            const [encode, upper] = choices.next().value as [boolean, boolean];
            if (!encode) return c;
            const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
            return `%${upper ? hex.toUpperCase() : hex.toLowerCase()}`;
          };
          const encodedSegs = segs.map((s) => [...s].map(encodeChar).join(''));
          const tail = trailing && segs.length > 0 ? '/' : '';
          const raw = `/${encodedSegs.join('/')}${tail}`;
          const result = canonicalizePath(raw, strict === undefined ? undefined : { strict });
          const plain = `/${segs.join('/')}`;
          expect(result).toEqual({ ok: true, path: strict === true ? plain + tail : plain });
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('6c. every character of a safe segment encoded decodes back', () => {
    fc.assert(
      fc.property(safePath, fc.boolean(), ({ segs }, upper) => {
        const enc = (s: string): string =>
          [...s].map((c) => `%${upper ? c.charCodeAt(0).toString(16).toUpperCase() : c.charCodeAt(0).toString(16)}`).join('');
        const raw = `/${segs.map(enc).join('/')}`;
        expect(canonicalizePath(raw)).toEqual({ ok: true, path: `/${segs.join('/')}` });
      }),
      { numRuns: RUNS / 2 },
    );
  });
});

describe('evaluateRestrictions agrees with canonicalizePath (property-based)', () => {
  const anything = parseRestrictions('.*');
  const empty = parseRestrictions('');
  const anythingWithMethods = parseRestrictions('[GET,POST].*');
  const evalOptions = fc.record({ caseInsensitive: fc.boolean(), strict: fc.boolean() }, { requiredKeys: [] });
  // The path part of a request target never holds `?` (that starts the query).
  const rawPath = anyPath.map((s) => s.replace(/\?/g, 'q'));

  test('7. accepted paths are allowed by `.*`; rejected paths are ambiguous_path even with no rules', () => {
    fc.assert(
      fc.property(rawPath, evalOptions, fc.constantFrom('', '?', '?a=1', '?a=%zz&b'), (raw, options, query) => {
        const canonical = canonicalizePath(raw, { strict: options.strict === true });
        for (const set of [anything, empty, anythingWithMethods]) {
          const decision = evaluateRestrictions(set, { method: 'GET', url: raw + query }, options);
          if (canonical.ok) {
            expect(decision.allowed).toBe(true);
            expect(decision.reason).toBeUndefined();
            if (set !== empty) expect(decision.line).toBe(1);
          } else {
            expect(decision.allowed).toBe(false);
            expect(decision.reason).toBe('ambiguous_path');
            expect(decision.line).toBeUndefined();
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('7b. a rule matching the canonical path literally allows it; the URL regex sees the decoded path', () => {
    // Spaces become `\x20`: trailing white space of a line is not part of its regex.
    const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&').replace(/ /g, '\\x20');
    fc.assert(
      fc.property(rawPath, fc.boolean(), (raw, strict) => {
        const canonical = canonicalizePath(raw, { strict });
        fc.pre(canonical.ok && canonical.path.length < 200);
        if (!canonical.ok) return;
        let set;
        try {
          set = parseRestrictions(`[GET]${escapeRegex(canonical.path)}`);
        } catch {
          return; // a path the grammar cannot express as one literal line (e.g. a raw control in the regex text)
        }
        const decision = evaluateRestrictions(set, { method: 'GET', url: raw }, { strict });
        expect(decision.allowed).toBe(true);
      }),
      { numRuns: RUNS / 2 },
    );
  });
});

describe('first-match evaluation agrees with a naive reference (property-based)', () => {
  // Segments with case and Unicode traps: the Kelvin sign, long s, dotted I, sharp s, accented letters.
  const SEGMENTS = ['rest', 'api', '2', '10', 'issue', 'JRA-1', 'Jra-1', 'KANBAN-100', 'comment', 'café', 'CAFÉ', 'k', 'K', '\u212a', 's', '\u017f', 'i', '\u0130', 'ß', 'SS', 'x', 'ABC', 'a b', '€'];
  /** Look-alikes a path may use instead of a rule's letters: case changes and non-ASCII characters that fold to ASCII. */
  const TWINS: Record<string, string[]> = {
    k: ['K', '\u212a'], K: ['k', '\u212a'], s: ['S', '\u017f'], S: ['s', '\u017f'], i: ['I', '\u0130', '\u0131'], I: ['i', '\u0130'],
    é: ['É', 'e'], É: ['é'], ß: ['SS', 'ss', 'ẞ'], a: ['A', 'ª'], A: ['a'], e: ['E'], r: ['R'], t: ['T'], x: ['X'], c: ['C'], u: ['U'],
  };
  const escapeRegex = (str: string): string => str.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&').replace(/ /g, '\\x20');
  const seg = fc.constantFrom(...SEGMENTS);
  const segs = fc.oneof({ weight: 2, arbitrary: seg.map((x) => [x]) }, { weight: 3, arbitrary: fc.array(seg, { minLength: 1, maxLength: 3 }) });
  const lit = (ss: readonly string[]): string => `/${ss.map(escapeRegex).join('/')}`;
  const SHAPES: ((a: string, b: string) => string)[] = [
    (a) => a, (a) => a, (a) => a, (a) => `${a}/?`, (a) => `.*${a}`, (a) => `${a}.*`, (a) => `.*${a}.*`, (a) => `${a}/[^/]+`,
    (a) => `${a}/\\d+`, (a, b) => `${a}(?:${b})?`, (a, b) => `${a}|${b}`, () => '.*',
  ];
  const methods = fc.constantFrom(null, ['GET'], ['POST'], ['GET', 'DELETE'], ['HEAD'], ['PATCH', 'PUT']);
  const rule = fc.record({ ms: methods, shape: fc.nat({ max: SHAPES.length - 1 }), a: segs, b: segs });
  const requestMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'PATCH', 'get', 'OPTIONS');
  /** Either a random path or one derived from a rule's segments, with look-alike letters swapped in. */
  const request = fc.record({
    method: requestMethod,
    random: fc.array(seg, { maxLength: 4 }),
    fromRule: fc.option(fc.tuple(fc.nat(), fc.boolean(), fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), fc.constantFrom('', '/1', '/x', '/123')), { freq: 2 }),
    trailing: fc.boolean(),
    lowerHex: fc.boolean(),
  });
  const twin = (str: string, picks: readonly number[]): string =>
    [...str].map((c, i) => {
      const options = TWINS[c];
      const pick = picks[i % picks.length]!;
      return options && pick % 3 !== 0 ? options[pick % options.length]! : c;
    }).join('');

  const admits = (ms: readonly string[] | null, method: string): boolean => {
    if (ms === null) return true;
    const m = method.toUpperCase();
    return ms.includes(m) || (m === 'HEAD' && ms.includes('GET'));
  };

  test('8. decisions equal "first rule whose method list admits the method and whose ^(?:re)$ matches the decoded path" (a leading .* read as the empty context path)', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 40 }), fc.array(request, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), (candidates, requests, caseSensitive, strict) => {
        // Keep the lines the engine accepts (the ReDoS vetting may refuse some shapes); others are not under test here.
        const lines = candidates
          .map((r) => {
            const u = SHAPES[r.shape]!(lit(r.a), lit(r.b));
            return { ...r, u, text: `${r.ms === null ? '' : `[${r.ms.join(',')}]`}${u}` };
          })
          .filter(({ text }) => {
            try {
              parseRestrictions(text);
              return true;
            } catch {
              return false;
            }
          });
        const set = parseRestrictions(lines.map((l) => l.text).join('\n'));
        // A leading `.*` before the `/` that starts a path stands for the context path, here none (SPEC §3.3).
        const regexes = lines.map((l) => new RegExp(`^(?:${l.u.replace(/^\.\*(?=\/)/, '')})$`, caseSensitive ? 's' : 'si'));
        for (const { method, random, fromRule, trailing, lowerHex } of requests) {
          let pathSegs = random;
          if (fromRule !== null && lines.length > 0) {
            const [k, useB, picks, tail] = fromRule;
            const source = lines[k % lines.length]!;
            pathSegs = [...(useB ? source.b : source.a).map((x) => twin(x, picks)), ...tail.split('/').filter(Boolean)];
          }
          const encoded = pathSegs.map((x) => {
            const e = encodeURIComponent(x);
            return lowerHex ? e.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()) : e;
          });
          const withSlash = trailing && pathSegs.length > 0;
          const raw = `/${encoded.join('/')}${withSlash ? '/' : ''}`;
          const decoded = `/${pathSegs.join('/')}${withSlash && strict ? '/' : ''}`;
          const expected = lines.findIndex((l, i) => admits(l.ms, method) && regexes[i]!.test(decoded));
          const decision = evaluateRestrictions(set, { method, url: raw }, { caseInsensitive: !caseSensitive, strict });
          const context = { rules: lines.map((l) => l.text), method, raw, caseSensitive, strict };
          if (lines.length === 0) {
            expect({ ...context, allowed: decision.allowed }).toEqual({ ...context, allowed: true });
          } else if (expected >= 0) {
            expect({ ...context, allowed: decision.allowed, line: decision.line }).toEqual({ ...context, allowed: true, line: expected + 1 });
          } else {
            expect({ ...context, allowed: decision.allowed, reason: decision.reason }).toEqual({ ...context, allowed: false, reason: 'no_rule_matched' });
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('8b. look-alike paths (case changes, Kelvin sign, long s, dotted I…) get the regex engine\'s answer', () => {
    fc.assert(
      fc.property(
        fc.oneof(seg.map((x) => [x]), segs),
        fc.constantFrom(0, 0, 3, 4, 5, 7),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        (ruleSegs, shape, picks, caseSensitive, padding) => {
          const u = SHAPES[shape]!(lit(ruleSegs), lit(ruleSegs));
          let set;
          try {
            // Padding rules (which never match) push the set over the index threshold now and then.
            set = parseRestrictions([...Array.from({ length: padding - 1 }, (_, i) => `/never/${i}`), u].join('\n'));
          } catch {
            return;
          }
          const pathSegs = ruleSegs.map((x) => twin(x, picks));
          const raw = `/${pathSegs.map(encodeURIComponent).join('/')}${shape === 7 ? '/1' : ''}`;
          const decoded = decodeURIComponent(raw);
          const expected = new RegExp(`^(?:${u})$`, caseSensitive ? 's' : 'si').test(decoded);
          const decision = evaluateRestrictions(set, { method: 'GET', url: raw }, { caseInsensitive: !caseSensitive });
          expect({ u, raw, caseSensitive, allowed: decision.allowed }).toEqual({ u, raw, caseSensitive, allowed: expected });
        },
      ),
      { numRuns: 1500 },
    );
  });
});
