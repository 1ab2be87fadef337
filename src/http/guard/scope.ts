// The guard's scope (SPEC §5): path-to-regexp patterns, matched like the host router matches routes.
import { pathToRegexp, PathError } from 'path-to-regexp';

/** The default scope: everything under `/rest`. */
export const DEFAULT_SCOPE: readonly string[] = ['/rest/*path'];

/** A compiled scope: one regex per case/strict mode, built on first use. */
export class Scope {
  readonly patterns: readonly string[];
  readonly #regexes = new Map<number, RegExp[]>();
  // The last answer: calls come with the same path again and again (canonicalizePath hands out one string).
  #lastPath: string | undefined;
  #lastMode = 0;
  #lastResult = false;

  constructor(patterns: string | readonly string[] = DEFAULT_SCOPE) {
    const list = typeof patterns === 'string' ? [patterns] : patterns;
    if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === 'string' && p.startsWith('/'))) {
      throw new TypeError(`options.scope must be a path pattern or a non-empty array of them, each starting with "/" (such as '/rest/*path'); got ${JSON.stringify(patterns)}`);
    }
    for (const pattern of list) {
      try {
        pathToRegexp(pattern);
      } catch (err) {
        const why = err instanceof PathError || err instanceof TypeError ? err.message : String(err);
        throw new TypeError(`options.scope: ${JSON.stringify(pattern)} is not a path-to-regexp 8 pattern (${why}); write wildcards as '/rest/*path', not '/rest/*'`);
      }
    }
    this.patterns = Object.freeze([...list]);
  }

  /** Whether a canonical (decoded, dot-free) path is in scope. */
  matches(path: string, caseSensitive: boolean, strict: boolean): boolean {
    const mode = (caseSensitive ? 1 : 0) | (strict ? 2 : 0);
    if (path === this.#lastPath && mode === this.#lastMode) return this.#lastResult;
    let regexes = this.#regexes.get(mode);
    if (regexes === undefined) {
      regexes = this.patterns.map((p) => pathToRegexp(p, { sensitive: caseSensitive, trailing: !strict }).regexp);
      this.#regexes.set(mode, regexes);
    }
    let result = false;
    for (const re of regexes) {
      if (re.test(path)) {
        result = true;
        break;
      }
    }
    this.#lastPath = path;
    this.#lastMode = mode;
    this.#lastResult = result;
    return result;
  }
}
