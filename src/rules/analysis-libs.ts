// The regex analysis libraries (regexpp, refa, regexp-ast-analysis, safe-regex2), loaded on first use rather
// than with the package: together they take some 30 ms to load, and they are only needed to vet, compile and
// lint rule texts (parseRestrictions, lintRestrictions), so an app that imports tokenfence and never parses a
// rule set does not pay for them. Evaluation uses them in one step only, compiling a context-path URL regex
// for a new basePath (urlRegex in compile.ts, through captureFree and anyCharFree), and only on a set that a
// parse built, so they are loaded by then.
//
// The build is CommonJS only (dist/esm is a thin entry over dist/cjs), so `require` is there at run time.
// The imports below are type-only and are erased from the output.
import type * as Regexpp from '@eslint-community/regexpp';
import type * as Refa from 'refa';
import type * as Rea from 'regexp-ast-analysis';
import type SafeRegex from 'safe-regex2';

export interface AnalysisLibs {
  readonly regexpp: typeof Regexpp;
  readonly refa: typeof Refa;
  /** regexp-ast-analysis. */
  readonly rea: typeof Rea;
  /** safe-regex2's function (the package's `module.exports` is the function itself). */
  readonly safeRegex: typeof SafeRegex;
}

let libs: AnalysisLibs | undefined;

/** The analysis libraries, loaded on the first call. Call it once per function, not inside a loop. */
export function analysisLibs(): AnalysisLibs {
  return (libs ??= {
    regexpp: require('@eslint-community/regexpp') as typeof Regexpp,
    refa: require('refa') as typeof Refa,
    rea: require('regexp-ast-analysis') as typeof Rea,
    safeRegex: require('safe-regex2') as typeof SafeRegex,
  });
}
