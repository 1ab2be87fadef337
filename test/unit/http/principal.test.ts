// Where the guard puts the principal: an accessor on Express's request prototype when there is one, an own
// property otherwise, and never on Node's or Object's prototypes.
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { setPrincipal } from '../../../src/http/principal';

/** A request shaped as Express makes it: req → app.request → express.request → IncomingMessage.prototype. */
function expressChain() {
  const expressRequest = Object.create(IncomingMessage.prototype) as object;
  const appRequest = Object.create(expressRequest) as object;
  const request = (proto: object = appRequest) => Object.setPrototypeOf(new IncomingMessage(new Socket()), proto) as IncomingMessage & { tokenfence?: unknown };
  return { expressRequest, appRequest, request };
}

const read = (req: object): unknown => (req as { tokenfence?: unknown }).tokenfence;

afterAll(() => {
  // Nothing leaked onto shared prototypes.
  expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'tokenfence')).toBeUndefined();
  expect(Object.getOwnPropertyDescriptor(Object.prototype, 'tokenfence')).toBeUndefined();
});

describe('setPrincipal on an Express request', () => {
  it('stores the principal behind an accessor on express.request, adding nothing to the request', () => {
    const { expressRequest, appRequest, request } = expressChain();
    const req = request();
    const keys = Object.keys(req);
    const principal = { user: 'alice' };
    setPrincipal(req, principal);
    expect(req.tokenfence).toBe(principal);
    expect(Object.hasOwn(req, 'tokenfence')).toBe(false);
    expect(Object.keys(req)).toEqual(keys);
    const accessor = Object.getOwnPropertyDescriptor(expressRequest, 'tokenfence');
    expect(accessor).toMatchObject({ enumerable: false, configurable: true, get: expect.any(Function), set: expect.any(Function) });
    expect(Object.getOwnPropertyDescriptor(appRequest, 'tokenfence')).toBeUndefined();
  });

  it('keeps each request’s principal apart; a request the guard did not touch has none', () => {
    const { request } = expressChain();
    const [a, b, untouched] = [request(), request(), request()];
    setPrincipal(a, { user: 'alice' });
    setPrincipal(b, { user: 'bob' });
    expect(read(a)).toEqual({ user: 'alice' });
    expect(read(b)).toEqual({ user: 'bob' });
    expect(read(untouched)).toBeUndefined();
    setPrincipal(a, { user: 'carol' }); // a second guard on the same request
    expect(read(a)).toEqual({ user: 'carol' });
  });

  it('is seen in a mounted app (its app.request inherits the parent’s) and after it hands back', () => {
    const { appRequest, request } = expressChain();
    const subAppRequest = Object.create(appRequest) as object;
    const req = request(subAppRequest); // the guard runs inside the sub-app
    setPrincipal(req, { user: 'alice' });
    Object.setPrototypeOf(req, appRequest); // Express restores the parent's prototype on the way out
    expect(read(req)).toEqual({ user: 'alice' });
  });

  it('lets the host assign req.tokenfence as on any object: an own property that hides the guard’s value', () => {
    const { request } = expressChain();
    const req = request();
    setPrincipal(req, { user: 'alice' });
    req.tokenfence = { user: 'host' };
    expect(Object.getOwnPropertyDescriptor(req, 'tokenfence')).toEqual({ value: { user: 'host' }, writable: true, enumerable: true, configurable: true });
    delete req.tokenfence;
    // Deleting the host's value does not bring the guard's back.
    expect(read(req)).toBeUndefined();
  });

  it('overwrites an own req.tokenfence the host set before the guard ran', () => {
    const { request } = expressChain();
    const req = request();
    req.tokenfence = 'forged by a middleware';
    setPrincipal(req, { user: 'alice' });
    expect(Object.getOwnPropertyDescriptor(req, 'tokenfence')?.value).toEqual({ user: 'alice' });
  });
});

describe('setPrincipal elsewhere: an own property', () => {
  it.each([
    ['a request straight from node:http', () => new IncomingMessage(new Socket())],
    ['a plain object', () => ({})],
    ['an object without a prototype', () => Object.create(null) as object],
  ])('on %s', (_name, make) => {
    const req = make();
    setPrincipal(req, { user: 'alice' });
    expect(Object.getOwnPropertyDescriptor(req, 'tokenfence')).toEqual({ value: { user: 'alice' }, writable: true, enumerable: true, configurable: true });
  });

  it('when express.request is frozen', () => {
    const { expressRequest, request } = expressChain();
    Object.freeze(expressRequest);
    const req = request();
    setPrincipal(req, { user: 'alice' });
    expect(Object.hasOwn(req, 'tokenfence')).toBe(true);
    expect(read(req)).toEqual({ user: 'alice' });
  });

  it('when express.request already has a tokenfence property of someone else’s, which is left alone', () => {
    const { expressRequest, request } = expressChain();
    const foreign = { get: () => 'foreign', configurable: true, enumerable: false };
    Object.defineProperty(expressRequest, 'tokenfence', foreign);
    const req = request();
    setPrincipal(req, { user: 'alice' });
    expect(read(req)).toEqual({ user: 'alice' });
    expect(Object.getOwnPropertyDescriptor(expressRequest, 'tokenfence')!.get).toBe(foreign.get);
  });
});

it('shares the principals between copies of tokenfence (the ESM and CJS builds, two versions)', () => {
  const { request } = expressChain();
  let other!: typeof setPrincipal;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    other = (require('../../../src/http/principal') as { setPrincipal: typeof setPrincipal }).setPrincipal;
  });
  expect(other).not.toBe(setPrincipal);
  const [first, second] = [request(), request()];
  other(first, { user: 'alice' }); // the other copy defines the accessor
  setPrincipal(second, { user: 'bob' }); // this copy finds it and uses it
  expect(read(first)).toEqual({ user: 'alice' });
  expect(read(second)).toEqual({ user: 'bob' });
  expect(Object.hasOwn(second, 'tokenfence')).toBe(false);
});
