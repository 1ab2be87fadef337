// TokenRateLimiter: per-token counts, RateLimit-* headers, Retry-After, and store failures passed on.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { TokenRateLimiter } from '../../../../src/http/guard/rate-limit';

describe('TokenRateLimiter', () => {
  it('counts per token and sends the RateLimit headers', async () => {
    const limiter = new TokenRateLimiter({ points: 2, duration: 60 });
    const first = await limiter.consume('a');
    expect(first.allowed).toBe(true);
    expect(first.headers).toEqual({ 'RateLimit-Policy': '2;w=60', 'RateLimit-Limit': '2', 'RateLimit-Remaining': '1', 'RateLimit-Reset': '60' });
    expect((await limiter.consume('a')).headers['RateLimit-Remaining']).toBe('0');
    const third = await limiter.consume('a');
    expect(third.allowed).toBe(false);
    expect(Number(third.headers['Retry-After'])).toBeGreaterThanOrEqual(59);
    expect(third.headers['RateLimit-Remaining']).toBe('0');
    expect((await limiter.consume('b')).allowed).toBe(true);
  });

  it('uses a limiter of the host’s own', async () => {
    const own = new RateLimiterMemory({ points: 1, duration: 5 });
    const limiter = new TokenRateLimiter({ limiter: own });
    expect((await limiter.consume('t')).headers['RateLimit-Policy']).toBe('1;w=5');
    expect((await limiter.consume('t')).allowed).toBe(false);
  });

  it('tells a limit hit from a store failure by shape: a limiter from another copy of rate-limiter-flexible gets 429, not 503', async () => {
    let other: typeof import('rate-limiter-flexible') | undefined;
    jest.isolateModules(() => {
      other = jest.requireActual<typeof import('rate-limiter-flexible')>('rate-limiter-flexible');
    });
    const foreign = new other!.RateLimiterMemory({ points: 1, duration: 5 });
    const limiter = new TokenRateLimiter({ limiter: foreign as unknown as RateLimiterMemory });
    expect((await limiter.consume('t')).allowed).toBe(true);
    // Its rejections are of its own RateLimiterRes class, not this copy's.
    const hit = await foreign.consume('u', 2).catch((r: unknown) => r);
    expect(hit instanceof RateLimiterRes).toBe(false);
    const second = await limiter.consume('t');
    expect(second.allowed).toBe(false);
    expect(Number(second.headers['Retry-After'])).toBeGreaterThanOrEqual(4);
  });

  it('rejects when the limiter’s store fails, so the guard can fail closed', async () => {
    const broken = new RateLimiterMemory({ points: 1, duration: 5 });
    jest.spyOn(broken, 'consume').mockRejectedValue(new Error('store down'));
    await expect(new TokenRateLimiter({ limiter: broken }).consume('t')).rejects.toThrow('store down');
  });

  it.each([
    [{ points: 0 }, /points must be a positive integer/],
    [{ points: 1.5 }, /points/],
    [{ duration: -1 }, /duration/],
    [{ limiter: {} }, /rate-limiter-flexible limiter/],
    [null, /must be an object/],
  ])('refuses %j at start-up', (options, message) => {
    expect(() => new TokenRateLimiter(options as never)).toThrow(message);
  });
});
