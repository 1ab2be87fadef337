// Reads and parses a JSON request body for JsonData rules when the host has not parsed it yet (SPEC §5).
import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate, type Zlib } from 'node:zlib';
import type { Transform } from 'node:stream';
import bytes from 'bytes';
import { parse as parseContentType } from 'content-type';
import secureJson from 'secure-json-parse';
import { GuardError } from '../errors.js';

/** The default body limit, as body-parser's `express.json()`. */
export const DEFAULT_BODY_LIMIT = 102_400;

/**
 * A byte count from a number or a size string, read by the `bytes` package as body-parser reads its
 * `limit` (`'100kb'`, `'1mb'`: 1024-based), so the guard's limit means what `express.json({ limit })`
 * means. TypeError otherwise.
 */
export function parseByteLimit(limit: number | string, option: string): number {
  const count = typeof limit === 'number' ? limit : typeof limit === 'string' ? bytes.parse(limit) : null;
  if (count === null || !Number.isSafeInteger(count) || count <= 0) {
    throw new TypeError(`${option} must be a positive number of bytes or a size string such as '100kb' or '1mb', got ${JSON.stringify(limit)}`);
  }
  return count;
}

/** Whether the host (body-parser 1 or 2, or anything that read the stream) has consumed the body already. */
export function bodyConsumed(req: IncomingMessage & { _body?: boolean }): boolean {
  return req._body === true || req.readableEnded === true || (req.complete === true && !req.readable);
}

/** The charset parameter (lower case), as the `content-type` package reads it; null for a header it cannot read. */
function charsetOf(contentType: string): string | undefined | null {
  try {
    return parseContentType(contentType).parameters['charset']?.toLowerCase();
  } catch {
    return null;
  }
}

function decoderFor(encoding: string): (Transform & Zlib) | null | undefined {
  switch (encoding) {
    case 'identity':
      return null;
    case 'gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

const tooLarge = (limit: number): GuardError => new GuardError('body_too_large', `The request body is larger than the limit of ${limit} bytes.`);

/**
 * Reads the whole body (after decompression) up to `limit` bytes. It resolves only when the request has
 * ended, never when a decompressor stops early: zlib's inflate and brotli end at the end of the first
 * compressed stream and ignore what follows, and a host parser that reads on from there (body-parser 2
 * checks whether the request finished, not `req._body`) would see another body than the one evaluated.
 * Bytes after the end of the compressed data are therefore refused.
 *
 * Hand-written rather than raw-body or body-parser, for that reason and one more: the limit must bind the
 * decompressed size as well as the bytes on the wire (a 100 kB gzip bomb inflates to gigabytes), and the
 * guard must see exactly the bytes a body parser after it will see. raw-body limits only what it is given,
 * and body-parser's readers would set `req.body` in the host's place.
 */
function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const declared = req.headers['content-length'];
  if (encoding === 'identity' && declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  const found = decoderFor(encoding);
  if (found === undefined) return Promise.reject(new GuardError('unsupported_body', 'The Content-Encoding is not supported; send identity, gzip, deflate or br.'));
  const decoder = found;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    /** Compressed bytes received, and whether the request and the decompressor have ended. */
    let received = 0;
    let requestEnded = false;
    let decoderEnded = false;
    const finish = (error: GuardError | null): void => {
      if (done) return;
      done = true;
      if (error === null) {
        resolve(Buffer.concat(chunks, size));
        return;
      }
      // Drain what is left so the connection can answer; nothing more is buffered or decompressed.
      req.removeListener('data', onRequestData);
      decoder?.destroy();
      req.resume();
      reject(error);
    };
    const collect = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    };
    const trailing = (): GuardError => new GuardError('invalid_json', 'The request body has data after the end of its compressed content.');
    /** With a decompressor: done when both have ended and it took every byte received. */
    const settle = (): void => {
      if (!requestEnded || !decoderEnded) return;
      finish(decoder!.bytesWritten === received ? null : trailing());
    };
    function onRequestData(chunk: Buffer): void {
      if (done) return;
      if (decoder === null) {
        collect(chunk);
        return;
      }
      received += chunk.length;
      if (decoderEnded) finish(trailing());
      // Compressed data outgrows what it decompresses to only by a few bytes per block, unless it is made
      // to (empty blocks): more than twice the limit is refused without decompressing all of it.
      else if (received > 2 * limit + 1024) finish(tooLarge(limit));
      // Backpressure, as pipe() would: the request waits while the decompressor is behind.
      else if (!decoder.write(chunk)) {
        req.pause();
        decoder.once('drain', () => req.resume());
      }
    }
    req.on('data', onRequestData);
    req.once('end', () => {
      requestEnded = true;
      if (done) return;
      if (decoder === null) finish(null);
      else if (decoderEnded) settle();
      else decoder.end();
    });
    req.once('aborted', () => finish(new GuardError('invalid_json', 'The request was aborted before its body was complete.')));
    req.on('error', () => finish(new GuardError('invalid_json', 'The request body could not be read.')));
    if (decoder !== null) {
      decoder.on('data', collect);
      decoder.once('end', () => {
        decoderEnded = true;
        // Input it did not take, already here, is refused now; input still to come, when it comes.
        if (decoder.bytesWritten < received) finish(trailing());
        else settle();
      });
      // `on`, not `once`: a destroyed decompressor may still report an error, which must not go unhandled.
      decoder.on('error', () => finish(new GuardError('invalid_json', 'The request body could not be decompressed.')));
    }
  });
}

/** What secure-json-parse throws for `__proto__` and `constructor.prototype` keys. */
const FORBIDDEN_KEY_MESSAGE = 'Object contains forbidden prototype property';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const FIRST_CHAR = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/;

/**
 * Parses a JSON body the way `express.json()` would accept it, but stricter where it matters for policy:
 * UTF-8 only, an object or array at the top (body-parser's `strict`), and prototype-poisoning keys
 * (`__proto__`, `constructor.prototype`) refused. An empty body is `{}` as in body-parser.
 */
export function parseJsonBody(bytes: Buffer, contentType: string): unknown {
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new GuardError('unsupported_body', 'The charset is not supported; send UTF-8 JSON.');
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new GuardError('invalid_json', 'The request body is not valid UTF-8.');
  }
  if (text.length === 0) return {};
  const first = FIRST_CHAR.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw new GuardError('invalid_json');
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    if (err instanceof SyntaxError && err.message === FORBIDDEN_KEY_MESSAGE) throw new GuardError('forbidden_json_key');
    throw new GuardError('invalid_json');
  }
}

/**
 * Reads and parses the JSON body, then leaves it where body-parser looks: `req.body` set, `req._body`
 * true (body-parser 1), the stream ended (body-parser 2), so the host's `express.json()` does not read
 * the stream again.
 */
export async function readJsonBody(req: IncomingMessage & { body?: unknown; _body?: boolean }, contentType: string, limit: number): Promise<unknown> {
  const bytes = await readAll(req, limit);
  const body = parseJsonBody(bytes, contentType);
  req.body = body;
  req._body = true;
  return body;
}
