// LineBuffer: lines of UTF-8 built byte by byte, taken whole, in order, across buffer boundaries.
import fc from 'fast-check';
import { LineBuffer } from '../../../src/http/line-buffer';

const text = (buffers: Buffer[]): string => Buffer.concat(buffers).toString('utf8');

/** One piece of a line, applied to the buffer and to a string model of what it must hold. */
type Piece = { kind: 'ascii'; s: string } | { kind: 'json'; s: string } | { kind: 'jsonPart'; s: string } | { kind: 'utf8'; s: string };
const model = (p: Piece): string => (p.kind === 'json' ? JSON.stringify(p.s) : p.kind === 'jsonPart' ? JSON.stringify(p.s).slice(1, -1) : p.kind === 'utf8' ? Buffer.from(p.s, 'utf8').toString('utf8') : p.s);
const apply = (out: LineBuffer, p: Piece): void => out[p.kind](p.s);

const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant('ascii' as const), s: fc.string({ unit: fc.constantFrom(...'abcXYZ019 {}:,."-') }) }),
  fc.record({ kind: fc.constant('json' as const), s: fc.string({ unit: 'binary', maxLength: 80 }) }),
  fc.record({ kind: fc.constant('jsonPart' as const), s: fc.string({ unit: 'binary', maxLength: 80 }) }),
  fc.record({ kind: fc.constant('utf8' as const), s: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
);
/** A script: lines of pieces, some dropped instead of ended, with takes in between. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('line' as const), pieces: fc.array(piece, { maxLength: 6 }), drop: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'take' as const }) },
);

describe('LineBuffer', () => {
  test('takes exactly the finished lines, in order, whatever the chunk size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(step, { maxLength: 40 }), (chunkSize, script) => {
        const out = new LineBuffer(chunkSize);
        let expected = '';
        let taken = '';
        let pending = 0;
        const takes: Array<{ buffers: Buffer[]; asTaken: string }> = [];
        for (const s of script) {
          if (s.op === 'take') {
            expect(out.lines).toBe(pending);
            const buffers = out.take();
            takes.push({ buffers, asTaken: text(buffers) });
            taken += text(buffers);
            pending = 0;
            continue;
          }
          let line = '';
          for (const p of s.pieces) {
            apply(out, p);
            line += model(p);
          }
          if (s.drop) out.dropLine();
          else {
            out.endLine();
            expected += `${line}\n`;
            pending++;
          }
        }
        taken += text(out.take());
        expect(taken).toBe(expected);
        // What was taken earlier did not change while later lines were written.
        for (const t of takes) expect(text(t.buffers)).toBe(t.asTaken);
      }),
    );
  });

  test('json() is JSON.stringify: escapes, control characters, lone surrogates, non-ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = new LineBuffer(16);
        out.json(s);
        out.endLine();
        expect(text(out.take())).toBe(`${JSON.stringify(s)}\n`);
      }),
    );
    const out = new LineBuffer();
    out.json('a"b\\c\n\u0001\ud800é€😀\u007f');
    out.endLine();
    expect(text(out.take())).toBe('"a\\"b\\\\c\\n\\u0001\\ud800é€😀\u007f"\n');
  });

  test('a line longer than the chunk gets a buffer of its own; nothing unfinished is taken', () => {
    const out = new LineBuffer(8);
    out.ascii('short');
    out.endLine();
    out.ascii('x'.repeat(100));
    expect(text(out.take())).toBe('short\n');
    out.endLine();
    out.ascii('tail');
    expect(text(out.take())).toBe(`${'x'.repeat(100)}\n`);
    out.dropLine();
    expect(out.take()).toEqual([]);
    expect(out.lines).toBe(0);
  });
});
