// Locks `req.url` once a guard approved a request (SPEC §5): a later change that would dispatch the request
// where the guard's rules or scope do not allow is refused, while Express's own mount-path trimming works.
//
// Express routes on `req.url` relative to `req.baseUrl`; between its own steps, `baseUrl + url` is the path
// being dispatched. A Router entering a mount path trims it off `req.url` and then extends `req.baseUrl`
// (and restores both, in the other order, on the way out), so for a moment `baseUrl + url` is neither the
// old path nor a new one. The lock therefore accepts a change of `req.url` at once when `baseUrl + url` is
// a target already approved, lets a step that is shaped like trimming (a suffix cut at a `/`, or a `/`
// added in front) stand as *pending*, and otherwise asks the guard, which throws when its rules refuse.
// A pending state is settled — the guard asked about `baseUrl + url` — as soon as the request is
// dispatched: routers read the path through `parseurl`, which stores `req._parsedUrl`, and while a step is
// pending the lock hides the stored parse so that it must be stored again. Express's trimming never reads
// the parse between its two steps; a host middleware that rewrites `req.url` to a suffix of an approved path
// and calls `next()` is caught there. The router reads the path inside a try/catch, so that refusal is
// answered by the guard itself (`refusedAtDispatch`), once, instead of ending in the router's 404.

/** One guard's part in a locked `req.url`. */
export interface TargetLock {
  /** The full targets (`baseUrl + url`, with query) this guard approved; `check` adds to it. */
  readonly approved: string[];
  /** Throws (a `GuardError`) when this guard does not allow `target`; else adds it to `approved`. */
  readonly check: (req: object, lock: TargetLock, target: string) => void;
  /**
   * Answers a refusal that `check` threw while the router read the path: Express's router reads it inside a
   * try/catch, so the throw itself would only end in a 404. Called once per request.
   */
  readonly refusedAtDispatch?: (req: object, refusal: unknown, lock: TargetLock) => void;
}

interface TargetState {
  url: unknown;
  baseUrl: unknown;
  parsed: unknown;
  /** A trimming or restoring step is half done: `baseUrl + url` has not been approved. */
  pending: boolean;
  /** The refusal of a target the router was about to dispatch, once answered. */
  refusal: unknown;
  readonly locks: TargetLock[];
}

/**
 * The locked requests, shared through the global symbol registry by every copy of tokenfence in the process
 * (the CommonJS and ES module builds may both be loaded), so that a second guard adds its lock to the first.
 */
const STATES: WeakMap<object, TargetState> = ((globalThis as Record<symbol, unknown>)[Symbol.for('tokenfence.targetStates.v1')] ??= new WeakMap()) as WeakMap<
  object,
  TargetState
>;

/** The state of `req`, or of the request an object inherits from (`Object.create(req)`). */
function stateOf(target: object): TargetState {
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const state = STATES.get(o);
    if (state !== undefined) return state;
  }
  throw new TypeError('tokenfence: req.url is locked');
}

/** What the request would be dispatched to now. */
const fullTarget = (state: TargetState): string => `${typeof state.baseUrl === 'string' ? state.baseUrl : ''}${String(state.url)}`;

function isApproved(state: TargetState, target: string): boolean {
  for (const lock of state.locks) if (!lock.approved.includes(target) && !isMountRoot(state, lock.approved)) return false;
  return true;
}

/**
 * Whether the request is an approved target as Express routes one for exactly a mount path: `/rest/api?x=1`
 * reaches a Router mounted at `/rest/api` as url `/?x=1` under that baseUrl. The `/` is Express's, not a
 * second path (under strict routing `/rest/api/` would be one).
 */
function isMountRoot(state: TargetState, approved: readonly string[]): boolean {
  const { baseUrl, url } = state;
  if (typeof baseUrl !== 'string' || baseUrl === '' || typeof url !== 'string') return false;
  if (url !== '/' && !url.startsWith('/?')) return false;
  return approved.includes(baseUrl + url.slice(1));
}

/** Asks every guard about `baseUrl + url`; throws when one refuses. */
function settle(req: object, state: TargetState): void {
  const target = fullTarget(state);
  for (const lock of state.locks) if (!lock.approved.includes(target)) lock.check(req, lock, target);
  state.pending = false;
}

/**
 * Whether `next` is one step of Express's mount-path trimming or restoring from `previous`: a proper suffix
 * cut at a `/` (`/rest/api` → `/api`, `/rest/` mounts: `/rest/api` → `api`, `/rest?x` → `?x`, and the
 * added slash taken off again: `/api` → `api`), or a `/` put in front of a path that lacks one.
 */
function isTrimStep(previous: unknown, next: unknown): boolean {
  if (typeof previous !== 'string' || typeof next !== 'string') return false;
  if (next.length < previous.length && previous.endsWith(next)) {
    const c = next.charCodeAt(0);
    return next === '' || c === 0x2f || c === 0x3f || previous.charCodeAt(previous.length - next.length - 1) === 0x2f;
  }
  return next.length === previous.length + 1 && next.charCodeAt(0) === 0x2f && previous.charCodeAt(0) !== 0x2f && next.endsWith(previous);
}

// One set of descriptors for every request, so no closures are made per call. Not configurable: neither
// `delete req.url` nor `Object.defineProperty` can take the lock away.
const URL_DESCRIPTOR: PropertyDescriptor = {
  configurable: false,
  enumerable: true,
  get(this: object) {
    return stateOf(this).url;
  },
  set(this: object, value: unknown) {
    const state = stateOf(this);
    const previous = state.url;
    const wasPending = state.pending;
    state.url = value;
    if (isApproved(state, fullTarget(state))) {
      state.pending = false;
      return;
    }
    if (isTrimStep(previous, value)) {
      state.pending = true;
      return;
    }
    try {
      settle(this, state);
    } catch (err) {
      state.url = previous;
      state.pending = wasPending;
      throw err;
    }
  },
};

const BASE_URL_DESCRIPTOR: PropertyDescriptor = {
  configurable: false,
  enumerable: true,
  get(this: object) {
    return stateOf(this).baseUrl;
  },
  set(this: object, value: unknown) {
    // `baseUrl` alone dispatches nothing: a change only makes the state pending until it is consistent again.
    const state = stateOf(this);
    state.baseUrl = value;
    state.pending = !isApproved(state, fullTarget(state));
  },
};

const PARSED_URL_DESCRIPTOR: PropertyDescriptor = {
  configurable: false,
  enumerable: false,
  get(this: object) {
    const state = stateOf(this);
    // Hidden while pending, so that parseurl parses and stores again, which settles the state.
    return state.pending ? undefined : state.parsed;
  },
  set(this: object, value: unknown) {
    const state = stateOf(this);
    if (state.pending) {
      // A router is reading the path (parseurl stores its parse): the request is being dispatched here.
      if (state.refusal !== undefined) throw state.refusal;
      try {
        settle(this, state);
      } catch (err) {
        state.refusal = err;
        // The router swallows what parseurl throws and would answer 404: the guard answers its refusal.
        for (const lock of state.locks) lock.refusedAtDispatch?.(this, err, lock);
        throw err;
      }
    }
    state.parsed = value;
  },
};

/**
 * Locks `req.url` (with `req.baseUrl` and `req._parsedUrl`, which the lock needs to follow Express's
 * routing) to what `lock` allows; a request locked by another guard already gets this guard's lock too.
 */
export function lockTarget(req: object, lock: TargetLock): void {
  const existing = STATES.get(req);
  if (existing !== undefined) {
    existing.locks.push(lock);
    return;
  }
  const r = req as { url?: unknown; baseUrl?: unknown; _parsedUrl?: unknown };
  STATES.set(req, { url: r.url, baseUrl: r.baseUrl, parsed: r._parsedUrl, pending: false, refusal: undefined, locks: [lock] });
  Object.defineProperty(req, 'url', URL_DESCRIPTOR);
  Object.defineProperty(req, 'baseUrl', BASE_URL_DESCRIPTOR);
  Object.defineProperty(req, '_parsedUrl', PARSED_URL_DESCRIPTOR);
}

/** `baseUrl + url` of a request as the lock sees it (for tests and the guard's own later checks). */
export function currentTarget(req: object): string | undefined {
  const state = STATES.get(req);
  return state === undefined ? undefined : fullTarget(state);
}
