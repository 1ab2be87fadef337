// The req.method lock: once a guard approved a request, `req.method` may only change to a method its
// restrictions allow on the approved targets (a method override that runs after the guard).
import type { Approval } from './context.js';
import type { GuardRequest } from './request.js';

/** One guard's part in a locked `req.method`. */
export interface MethodLock {
  readonly approval: Approval;
  /** Throws when this guard's restrictions do not allow `value`; else records it as approved. */
  readonly check: (req: GuardRequest, lock: MethodLock, value: unknown) => void;
}

/** A locked `req.method`: its value, and the lock of every guard that approved the request. */
interface MethodState {
  current: unknown;
  readonly locks: MethodLock[];
}

/**
 * The locked requests, shared through the global symbol registry by every copy of tokenfence in the
 * process (its CommonJS and ES module builds may both be loaded), so a second guard adds its lock to the
 * first one's instead of failing to redefine the property.
 */
const METHOD_STATES: WeakMap<object, MethodState> = ((globalThis as Record<symbol, unknown>)[Symbol.for('tokenfence.methodStates.v1')] ??= new WeakMap()) as WeakMap<object, MethodState>;

/** The state of `req`, or of the request an object inherits from (`Object.create(req)`). */
function methodStateOf(target: object): MethodState | undefined {
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const state = METHOD_STATES.get(o);
    if (state !== undefined) return state;
  }
  return undefined;
}

/**
 * One descriptor for every request, so no closures are made per call. Not configurable: once a guard
 * approved the request, neither `delete req.method` nor `Object.defineProperty` can take the lock away
 * (in strict code they throw; the method stays as approved).
 */
const METHOD_DESCRIPTOR: PropertyDescriptor = {
  configurable: false,
  enumerable: true,
  get(this: object) {
    return methodStateOf(this)?.current;
  },
  set(this: object, value: unknown) {
    const state = methodStateOf(this);
    if (state === undefined) throw new TypeError('tokenfence: req.method is locked');
    for (const lock of state.locks) lock.check(this as GuardRequest, lock, value);
    state.current = value;
  },
};

/** Locks `req.method` to `lock`'s approval (and to every other guard's that locked it already). */
export function lockMethod(req: GuardRequest, lock: MethodLock): void {
  const state = METHOD_STATES.get(req);
  if (state !== undefined) {
    // Locked by another guard already: the method must satisfy this one too.
    state.locks.push(lock);
    return;
  }
  METHOD_STATES.set(req, { current: lock.approval.call.method, locks: [lock] });
  Object.defineProperty(req, 'method', METHOD_DESCRIPTOR);
}
