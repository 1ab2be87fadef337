// TokenRateLimiter: per-token counts, RateLimit-* headers, Retry-After, and store failures passed on.
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { TokenRateLimiter } from '../../../src/http/rate-limit';

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
