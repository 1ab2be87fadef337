// Where `req.tokenfence` lives: an accessor on Express's request prototype over a WeakMap, not a property
// added to each request.
//
// Express swaps the prototype of every request (`Object.setPrototypeOf(req, app.request)`), and from then
// on V8 gives each request a hidden class of its own: adding a property to one copies its class and
// descriptor array, about 3.5 µs on Node 20 and 1.3 KB of garbage per request, the largest single cost
// the guard had. A WeakMap entry costs about a tenth of that and leaves the host's request as it was.
// The property is declared once on the prototype instead, as Fastify's `decorateRequest` does and for the
// same reason: `express.request` (the object every app's `app.request` inherits from, one per copy of
// Express), found as the prototype just above `http.IncomingMessage.prototype`.
//
// Reading `req.tokenfence` is unchanged. What differs from an own property: it is not an own key
// (`Object.keys(req)`, spreads and `Object.hasOwn` do not show it). Assigning `req.tokenfence = x` makes an
// own property, exactly as it would without the accessor, and hides the guard's value. A request whose
// chain has no such prototype (not Express, a plain object in a test) or whose prototype cannot take the
// accessor (frozen) gets an own property, as before.
import { IncomingMessage } from 'node:http';

const KEY = 'tokenfence';

/**
 * The principals, shared by every copy of tokenfence in the process (its ESM and CJS builds, or two
 * versions), so that whichever copy defined the accessor, each sees what the others stored.
 */
const REGISTRY = Symbol.for('tokenfence.principals.v1');
const registryHolder = globalThis as { [REGISTRY]?: WeakMap<object, unknown> };
const principals: WeakMap<object, unknown> = (registryHolder[REGISTRY] ??= new WeakMap<object, unknown>());

/** Marks tokenfence's accessor, so that any copy recognises one another copy installed. */
const ACCESSOR = Symbol.for('tokenfence.principal.accessor.v1');

function getPrincipal(this: object): unknown {
  return principals.get(this);
}
/** An assignment by the host: an own property, as on any object, and the guard's value is forgotten. */
function assignPrincipal(this: object, value: unknown): void {
  principals.delete(this);
  Object.defineProperty(this, KEY, { value, writable: true, enumerable: true, configurable: true });
}
(getPrincipal as unknown as Record<symbol, boolean>)[ACCESSOR] = true;

/** The prototype just above `http.IncomingMessage.prototype` in the chain, if the chain has one. */
function homeOf(proto: object | null): object | null {
  let home = proto;
  while (home !== null && home !== IncomingMessage.prototype) {
    const up = Object.getPrototypeOf(home) as object | null;
    if (up === IncomingMessage.prototype) return home;
    home = up;
  }
  return null;
}

/** Defines the accessor on `home` unless tokenfence's is there; false when something else holds the name or it cannot be defined. */
function install(home: object): boolean {
  const existing = Object.getOwnPropertyDescriptor(home, KEY);
  if (existing !== undefined) return (existing.get as unknown as Record<symbol, unknown> | undefined)?.[ACCESSOR] === true;
  try {
    Object.defineProperty(home, KEY, { get: getPrincipal, set: assignPrincipal, enumerable: false, configurable: true });
    return true;
  } catch {
    return false; // a frozen or non-extensible prototype
  }
}

/** Per request prototype (one per Express app): whether its chain carries the accessor. */
const ready = new WeakMap<object, boolean>();
let lastProto: object | null | undefined;
let lastReady = false;

function accessorFor(req: object): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === lastProto) return lastReady;
  let ok = proto === null ? false : ready.get(proto);
  if (ok === undefined) {
    const home = homeOf(proto);
    ok = home !== null && install(home);
    ready.set(proto!, ok);
  }
  lastProto = proto;
  lastReady = ok;
  return ok;
}

/**
 * Puts `value` on `req` as `req.tokenfence`: in the shared WeakMap when the request's prototype carries
 * the accessor and nothing of the request's own hides it, else as an own property.
 */
export function setPrincipal(req: object, value: unknown): void {
  if (accessorFor(req) && !Object.hasOwn(req, KEY)) principals.set(req, value);
  else Object.defineProperty(req, KEY, { value, writable: true, enumerable: true, configurable: true });
}
