// Rewrites parts of a regex source by their offsets (the rewrites of compile, vetting and the linear engine).

/** A replacement of `source.slice(start, end)` by `text`. */
export interface SourceEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** `source` with `edits` (which do not overlap) applied. */
export function applyEdits(source: string, edits: readonly SourceEdit[]): string {
  let out = '';
  let at = 0;
  for (const e of [...edits].sort((x, y) => x.start - y.start)) {
    out += source.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + source.slice(at);
}
