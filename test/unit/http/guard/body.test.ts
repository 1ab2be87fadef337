// The guard's JSON body reader: limits, encodings, charsets, strictness and prototype-poisoning keys.
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { bodyConsumed, DEFAULT_BODY_LIMIT, parseByteLimit, parseJsonBody, readJsonBody } from '../../../../src/http/guard/body';
import { GuardError } from '../../../../src/http/errors';

function stream(body: Buffer | string, headers: Record<string, string> = {}): IncomingMessage & { body?: unknown; _body?: boolean } {
  const s = new PassThrough() as unknown as IncomingMessage & { body?: unknown; _body?: boolean };
  (s as { headers: Record<string, string> }).headers = headers;
  (s as unknown as PassThrough).end(body);
  return s;
}

const codeOf = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    return (err as GuardError).code;
  }
  throw new Error('expected a GuardError');
};

describe('parseByteLimit', () => {
  it.each([
    [1024, 1024],
    ['100kb', 102_400],
    ['1mb', 1_048_576],
    ['1.5KB', 1536],
    ['10', 10],
    // The `bytes` package's reading, as body-parser's `limit`: 1024-based units up to pb.
    ['1 tb', 1024 ** 4],
  ])('reads %j as %d bytes', (input, bytes) => expect(parseByteLimit(input, 'x')).toBe(bytes));
  it.each([0, -1, 1.5, '', 'lots', '-1kb', '0kb', NaN, Infinity, '100000000 pb', null])('refuses %j', (input) => expect(() => parseByteLimit(input as never, 'options.bodyLimit')).toThrow(/options.bodyLimit/));
  it('defaults to express.json()’s 100kb', () => expect(DEFAULT_BODY_LIMIT).toBe(102_400));
});

describe('parseJsonBody', () => {
  const json = 'application/json';
  it('parses objects and arrays; an empty body is {}', () => {
    expect(parseJsonBody(Buffer.from(' {"a":[1,true,null]} '), json)).toEqual({ a: [1, true, null] });
    expect(parseJsonBody(Buffer.from('[1]'), `${json}; charset=UTF-8`)).toEqual([1]);
    expect(parseJsonBody(Buffer.alloc(0), json)).toEqual({});
  });
  it('keeps the last of duplicate keys, as JSON.parse and body-parser do', () => {
    expect(parseJsonBody(Buffer.from('{"editable":false,"editable":true}'), json)).toEqual({ editable: true });
  });
  it.each([
    ['{"__proto__":{"admin":true}}', 'forbidden_json_key'],
    ['{"a":{"__proto__":{}}}', 'forbidden_json_key'],
    ['{"constructor":{"prototype":{"x":1}}}', 'forbidden_json_key'],
    ['{"a":', 'invalid_json'],
    ['"text"', 'invalid_json'],
    ['42', 'invalid_json'],
    ['null', 'invalid_json'],
    ['{"a":1} x', 'invalid_json'],
  ])('refuses %s with %s', async (text, code) => {
    expect(await codeOf(() => parseJsonBody(Buffer.from(text), json))).toBe(code);
  });
  it('refuses other charsets and bytes that are not UTF-8', async () => {
    expect(await codeOf(() => parseJsonBody(Buffer.from('{}'), 'application/json; charset=utf-16le'))).toBe('unsupported_body');
    expect(await codeOf(() => parseJsonBody(Buffer.from('{}'), 'application/json; charset="latin1"'))).toBe('unsupported_body');
    expect(await codeOf(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), json))).toBe('invalid_json');
  });
  it('allows a "constructor" key that is not a prototype path', () => {
    expect(parseJsonBody(Buffer.from('{"constructor":"x"}'), json)).toEqual({ constructor: 'x' });
  });
});

describe('readJsonBody', () => {
  it('leaves the body where body-parser 1 and 2 look for it', async () => {
    const req = stream('{"a":1}');
    expect(bodyConsumed(req)).toBe(false);
    expect(await readJsonBody(req, 'application/json', 1000)).toEqual({ a: 1 });
    expect(req.body).toEqual({ a: 1 });
    expect(req._body).toBe(true);
    expect(bodyConsumed(req)).toBe(true);
  });
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('decompresses %s', async (encoding, compress) => {
    const req = stream(compress(Buffer.from('{"b":2}')), { 'content-encoding': encoding });
    expect(await readJsonBody(req, 'application/json', 1000)).toEqual({ b: 2 });
  });
  it('refuses a body over the limit, declared or streamed, and a zip bomb', async () => {
    expect(await codeOf(readJsonBody(stream('{}', { 'content-length': '5000' }), 'application/json', 100))).toBe('body_too_large');
    expect(await codeOf(readJsonBody(stream(`{"a":"${'x'.repeat(200)}"}`), 'application/json', 100))).toBe('body_too_large');
    const bomb = gzipSync(Buffer.from(`{"a":"${'x'.repeat(1_000_000)}"}`));
    expect(bomb.length).toBeLessThan(10_000);
    expect(await codeOf(readJsonBody(stream(bomb, { 'content-encoding': 'gzip' }), 'application/json', 100_000))).toBe('body_too_large');
  });
  it('refuses compressed data that decompresses to little but is over twice the limit (a stream of empty blocks)', async () => {
    // zlib header, 30,000 empty stored blocks (5 bytes each, nothing out), a final empty block, adler32 of "".
    const empty = Buffer.concat([Buffer.from([0x78, 0x01]), Buffer.alloc(30_000 * 5, Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff])), Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01])]);
    expect(empty.length).toBe(150_011);
    // Within twice the limit it is read to its end: an empty body, {} as in body-parser.
    expect(await readJsonBody(stream(empty, { 'content-encoding': 'deflate' }), 'application/json', 100_000)).toEqual({});
    expect(await codeOf(readJsonBody(stream(empty, { 'content-encoding': 'deflate' }), 'application/json', 50_000))).toBe('body_too_large');
  });
  it('refuses data after the end of the compressed content, in the same chunk or later', async () => {
    for (const [encoding, compress] of [['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
      const body = compress(Buffer.from('{"b":2}'));
      expect(await codeOf(readJsonBody(stream(Buffer.concat([body, Buffer.from(' ')]), { 'content-encoding': encoding }), 'application/json', 1000))).toBe('invalid_json');
      const later = new PassThrough() as unknown as IncomingMessage;
      (later as { headers: Record<string, string> }).headers = { 'content-encoding': encoding };
      const reading = readJsonBody(later, 'application/json', 1000);
      (later as unknown as PassThrough).write(body);
      await new Promise((resolve) => setTimeout(resolve, 20));
      (later as unknown as PassThrough).end(compress(Buffer.from('{"b":3}')));
      expect(await codeOf(reading)).toBe('invalid_json');
    }
  });
  it('refuses unknown encodings and corrupt compressed data', async () => {
    expect(await codeOf(readJsonBody(stream('{}', { 'content-encoding': 'compress' }), 'application/json', 100))).toBe('unsupported_body');
    expect(await codeOf(readJsonBody(stream('not gzip', { 'content-encoding': 'gzip' }), 'application/json', 100))).toBe('invalid_json');
  });
});
