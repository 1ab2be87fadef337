// HTTP test support: both Express majors, a loopback server per app, supertest bound to a server's port (`http`,
// and `viaSupertest` for tables of RawRequests), and raw clients for what supertest cannot send: `send` puts the
// request target and header lines on the wire exactly as given (a path URL parsing would change, such as one with
// a backslash, `#`, a space or non-ASCII; a repeated header; no Host header; a chosen Content-Length or
// Transfer-Encoding), and `sendInParts` writes raw bytes to the socket in parts.
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express5 from 'express';
import supertest from 'supertest';
// The npm alias `express4` is Express 4 (see package.json).
import express4 from 'express4';

/** A factory of Express apps; each suite runs against both majors. */
export interface ExpressFlavour {
  readonly name: 'express4' | 'express5';
  readonly create: () => import('express').Express;
  readonly json: (options?: { limit?: string | number }) => import('express').RequestHandler;
  /** A Router of the same major. */
  readonly router: (options?: { caseSensitive?: boolean; strict?: boolean }) => import('express').Router;
}

export const EXPRESS_FLAVOURS: readonly ExpressFlavour[] = [
  {
    name: 'express4',
    create: () => express4() as unknown as import('express').Express,
    json: (o) => express4.json(o) as unknown as import('express').RequestHandler,
    router: (o) => express4.Router(o) as unknown as import('express').Router,
  },
  { name: 'express5', create: () => express5(), json: (o) => express5.json(o), router: (o) => express5.Router(o) },
];

/** A server listening on 127.0.0.1 on a free port. */
export interface TestServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export function listen(app: (req: never, res: never) => void): Promise<TestServer> {
  return new Promise((resolve, reject) => {
    const server = (app as unknown as { listen: (port: number, host: string, cb: () => void) => Server }).listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once('error', reject);
  });
}

/** A raw request: `headers` as [name, value] pairs, so a header may repeat and case is kept. */
export interface RawRequest {
  method?: string;
  path: string;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body again, under supertest's name, so code can read `status`, `headers` and `text` of either kind of response. */
  text: string;
  json<T = unknown>(): T;
}

/** supertest against a server from `listen`: `http(port).get(path)`. */
export const http = (port: number) => supertest(`http://127.0.0.1:${port}`);

const SUPERTEST_METHODS = { GET: 'get', HEAD: 'head', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete', OPTIONS: 'options' } as const;

/**
 * A RawRequest sent with supertest, for tables of requests most of which supertest can send. Throws rather
 * than send something else: on a header name given twice (supertest's .set() keeps only the last one; such a
 * request needs `send`) and on a body without a Content-Type (superagent would add one).
 */
export function viaSupertest(port: number, req: RawRequest): supertest.Test {
  const method = SUPERTEST_METHODS[(req.method ?? 'GET') as keyof typeof SUPERTEST_METHODS];
  if (method === undefined) throw new Error(`viaSupertest: no supertest method for ${String(req.method)}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of req.headers ?? []) {
    if (Object.keys(headers).some((n) => n.toLowerCase() === name.toLowerCase())) throw new Error(`viaSupertest: the ${name} header repeats; use send`);
    headers[name] = value;
  }
  const test = http(port)[method](req.path).set(headers);
  if (req.body === undefined) return test;
  if (!Object.keys(headers).some((n) => n.toLowerCase() === 'content-type')) throw new Error('viaSupertest: a body needs a Content-Type here');
  return test.send(req.body);
}

/**
 * Sends the request target byte for byte (Node's client does not normalise the path) and the header lines as
 * listed. Only for what supertest cannot express; `viaSupertest` or `http` otherwise.
 */
export function send(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: string[] = [];
    // With headers as a flat array Node adds no Host header; HTTP/1.1 servers refuse a request without one.
    if (!(req.headers ?? []).some(([n]) => n.toLowerCase() === 'host')) headers.push('Host', `127.0.0.1:${port}`);
    for (const [name, value] of req.headers ?? []) headers.push(name, value);
    if (req.body !== undefined && !(req.headers ?? []).some(([n]) => n.toLowerCase() === 'content-length' || n.toLowerCase() === 'transfer-encoding')) {
      headers.push('Content-Length', String(Buffer.byteLength(req.body)));
    }
    const r = httpRequest({ host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers: headers as unknown as Record<string, string>, agent: false, insecureHTTPParser: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body, json: <T>() => JSON.parse(body) as T });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** Status and parsed body of a supertest or raw response, compared as one value so a failure shows both. */
export function outcome(r: { status: number; body: unknown } | RawResponse): { status: number; body: unknown } {
  if (typeof r.body !== 'string') return { status: r.status, body: r.body };
  try {
    return { status: r.status, body: JSON.parse(r.body) as unknown };
  } catch {
    return { status: r.status, body: r.body };
  }
}

/** Basic credentials: base64 of `user:password`. */
export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/**
 * Writes raw bytes to a fresh connection in parts, `delayMs` apart (a body that arrives in two packets),
 * and resolves with everything the server sent back once it closes the connection (send `Connection: close`).
 */
export function sendInParts(port: number, parts: readonly Buffer[], delayMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5_000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received).toString('latin1'));
    });
    let next = 0;
    const write = (): void => {
      if (socket.destroyed || next >= parts.length) return;
      socket.write(parts[next++]!);
      if (next < parts.length) setTimeout(write, delayMs);
    };
    socket.once('connect', write);
  });
}
