// Start-up checks of options objects: an unknown key or a wrong type is a programmer's mistake, so it throws
// a TypeError that names the option and the likely fix (STYLE §4), as helmet and express-rate-limit do.
import leven from 'leven';

/**
 * Throws when `options` has a key that is not in `known`: the message suggests the closest known name (by
 * edit distance), or `hints[key]` when a user of another library would write that key.
 *
 * @param where what the options belong to, as the message should name it (`createTokenService`,
 *   `options.policy`)
 */
export function checkKnownKeys(where: string, options: object, known: readonly string[], hints: Readonly<Record<string, string>> = {}): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? hints[key] : closest(key, known);
    throw new TypeError(`${where}: unknown option ${JSON.stringify(key)}${hint === undefined ? '' : `; ${hint}`} (known options: ${known.join(', ')})`);
  }
}

/** "did you mean …?" for the known name nearest to `key`, when one is near enough to be a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = leven(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? `did you mean ${JSON.stringify(best)}?` : undefined;
}

/** Throws unless `value` is undefined or a number within [min, max] (an integer when `integer`), naming its unit. */
export function checkNumber(name: string, value: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false, unit = '' }: { min?: number; max?: number; integer?: boolean; unit?: string }): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new TypeError(`${name} must be ${kind}${unit ? ` of ${unit}` : ''} from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
}

/** Throws unless `value` is undefined or a function. */
export function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${value === null ? 'null' : typeof value}`);
}
