// Lines of UTF-8 text built byte by byte in buffers outside the JavaScript heap, for the JSON-lines audit
// file: an event is serialised when it is written and leaves nothing behind on the heap, so a busy server
// neither copies waiting events from one garbage collection to the next nor builds strings to join.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * An append-only run of lines. Text goes into the current line with `ascii`, `json`, `jsonPart` and
 * `utf8`; `endLine` finishes it; `take` hands over every finished line as buffers and forgets them. A line
 * is never split between two buffers, and an unfinished line is never taken.
 */
export class LineBuffer {
  readonly #chunkSize: number;
  /** Full buffers not taken yet. */
  #full: Buffer[] = [];
  #buf: Buffer;
  /** Where the next byte goes, where the current line starts, and where the untaken part starts. */
  #pos = 0;
  #lineStart = 0;
  #takenUpTo = 0;
  /** Finished lines not taken yet. */
  lines = 0;

  constructor(chunkSize = 64 * 1024) {
    this.#chunkSize = chunkSize;
    this.#buf = Buffer.allocUnsafeSlow(chunkSize);
  }

  /** Makes room for `n` more bytes, moving the current line to a new buffer when this one is full. */
  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const partial = this.#pos - this.#lineStart;
    const next = Buffer.allocUnsafeSlow(Math.max(this.#chunkSize, partial + n));
    this.#buf.copy(next, 0, this.#lineStart, this.#pos);
    if (this.#lineStart > this.#takenUpTo) this.#full.push(this.#buf.subarray(this.#takenUpTo, this.#lineStart));
    this.#buf = next;
    this.#pos = partial;
    this.#lineStart = 0;
    this.#takenUpTo = 0;
  }

  /** Text that is ASCII with nothing to escape (field names, numbers, ISO times), as is. */
  ascii(text: string): void {
    this.#room(text.length);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < text.length; i++) buf[pos++] = text.charCodeAt(i);
    this.#pos = pos;
  }

  /** Any text, UTF-8 encoded, as is (lone surrogates become U+FFFD). */
  utf8(text: string): void {
    this.#room(text.length * 3);
    this.#pos += this.#buf.write(text, this.#pos, 'utf8');
  }

  /**
   * The inside of the JSON string literal of `text`, without the quotes: what `JSON.stringify(text)`
   * gives between them. Printable ASCII without `"` or `\`, which is nearly all text here, is copied as it
   * is; anything else goes through `JSON.stringify` (escapes, `\uXXXX` for lone surrogates) and UTF-8.
   */
  jsonPart(text: string): void {
    this.#room(text.length);
    const buf = this.#buf;
    const start = this.#pos;
    let pos = start;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.#pos = start;
        this.utf8(JSON.stringify(text).slice(1, -1));
        return;
      }
      buf[pos++] = c;
    }
    this.#pos = pos;
  }

  /** `JSON.stringify(text)`, quotes included. */
  json(text: string): void {
    this.ascii('"');
    this.jsonPart(text);
    this.ascii('"');
  }

  /** Ends the current line with `\n`. */
  endLine(): void {
    this.#room(1);
    this.#buf[this.#pos++] = NEWLINE;
    this.#lineStart = this.#pos;
    this.lines++;
  }

  /** Drops what was written of the current line (a line that could not be finished). */
  dropLine(): void {
    this.#pos = this.#lineStart;
  }

  /** Every finished line not taken yet, in order; they are not returned again. */
  take(): Buffer[] {
    const taken = this.#full;
    if (this.#lineStart > this.#takenUpTo) taken.push(this.#buf.subarray(this.#takenUpTo, this.#lineStart));
    this.#full = [];
    this.#takenUpTo = this.#lineStart;
    this.lines = 0;
    return taken;
  }
}
