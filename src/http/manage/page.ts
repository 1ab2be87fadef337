// tokenPage (SPEC §7, issue 15): serves the token management web page — src/ui's static index.html, app.js
// and app.css, no build step — under a strict Content-Security-Policy, pointed at the management API and the
// session resource by <meta> tags (the policy allows no inline script to carry them).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Request, Response, Router } from 'express';
import { checkKnownKeys } from '../../internal/options.js';

/** Options of {@link tokenPage}. */
export interface TokenPageOptions {
  /**
   * Where the host mounted `tokenRouter`: a path on the page's own origin (the policy lets the page
   * call nothing else).
   * @default '/rest/api-tokens/latest'
   */
  apiPath?: string | undefined;
  /**
   * Where the host mounted `sessionRouter`, for sign-in and sign-out.
   * @default '/rest/auth/1/session'
   */
  sessionPath?: string | undefined;
}

/**
 * The Content-Security-Policy of the page: its own script, style and API calls only; no inline script or
 * style, no plug-ins, no framing, no `<base>`. Stricter than helmet's defaults.
 */
export const TOKEN_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The page's files, in the folder {@link findPageDirectory} looks for. */
export const PAGE_FILES = Object.freeze(['index.html', 'app.js', 'app.css', 'favicon.svg'] as const);

const KNOWN = Object.freeze(['apiPath', 'sessionPath']);
const HINTS: Readonly<Record<string, string>> = {
  api: 'the option is "apiPath", where tokenRouter is mounted',
  mountPath: 'the option is "apiPath", where tokenRouter is mounted',
  sessionUrl: 'the option is "sessionPath", where sessionRouter is mounted',
  loginPath: 'the option is "sessionPath", where sessionRouter is mounted',
};
/** A path on this origin, safe in an HTML attribute: a leading `/`, no trailing `/`, nothing a URL would re-read. */
const PATH = /^(?:\/[A-Za-z0-9\-._~!$&()*+,;=:@%]+)+$/;

/**
 * The folder that holds the page's files, seen from `dir` (the folder of page.js or page.ts):
 * `dist/cjs/http/manage → dist/ui` (the build copies src/ui there, so it ships in the package),
 * `src/http/manage → src/ui` (ts-jest runs the sources), and `dist/cjs/http/manage → src/ui` (a checkout
 * built before the copy was added). Undefined when none holds all of {@link PAGE_FILES}.
 */
export function findPageDirectory(dir: string): string | undefined {
  for (const candidate of [join(dir, '../../../ui'), join(dir, '../../ui'), join(dir, '../../../../src/ui')]) {
    if (PAGE_FILES.every((file) => existsSync(join(candidate, file)))) return resolve(candidate);
  }
  return undefined;
}

const escapeAttribute = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `html` with the content of `<meta name="tokenfence-<name>">` set to `value`; throws when the tag is missing. */
function setMeta(html: string, name: string, value: string): string {
  const tag = new RegExp(`<meta name="tokenfence-${name}" content="[^"]*">`);
  if (!tag.test(html)) throw new Error(`tokenPage: index.html has no <meta name="tokenfence-${name}"> tag; the installed page files are damaged`);
  return html.replace(tag, `<meta name="tokenfence-${name}" content="${escapeAttribute(value)}">`);
}

function checkPath(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !PATH.test(value)) {
    throw new TypeError(`tokenPage: options.${name} must be a path on this origin where the router is mounted, such as '${name === 'apiPath' ? '/rest/api-tokens/latest' : '/rest/auth/1/session'}' (a leading "/", no trailing "/", no query); got ${JSON.stringify(value)}`);
  }
}

/** Throws a TypeError that names the option when `options` is not valid {@link TokenPageOptions}. */
export function checkPageOptions(options: unknown): asserts options is TokenPageOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError('tokenPage takes an options object or nothing: tokenPage({ apiPath, sessionPath })');
  checkKnownKeys('tokenPage', options, KNOWN, HINTS);
  const { apiPath, sessionPath } = options as TokenPageOptions;
  checkPath('apiPath', apiPath);
  checkPath('sessionPath', sessionPath);
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly cacheControl: string;
  readonly etag?: string;
}

/** Headers of every answer of the page: helmet's set, stricter. */
function setSecurityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', TOKEN_PAGE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/**
 * Creates the router of the token management page: the page at its mount path (`/tokens` redirects to
 * `/tokens/`, so the page's relative links work behind any prefix), `app.js` and `app.css` beside it. The
 * page signs in with the session resource and calls the management API with the session cookie, so mount
 * `sessionRouter`, `xsrfProtection` and `tokenRouter` as well; the page itself needs no login. The files are
 * read once, here.
 *
 * @example
 * app.use('/rest/api-tokens/latest', tokenRouter({ tokens, isAdmin }));
 * app.use('/tokens', tokenPage({ apiPath: '/rest/api-tokens/latest', sessionPath: '/rest/auth/1/session' }));
 */
export function tokenPage(options: TokenPageOptions = {}): Router {
  checkPageOptions(options);
  const express = require('express') as typeof import('express');
  const directory = findPageDirectory(__dirname);
  if (directory === undefined) {
    throw new Error(`tokenPage: the page's files (${PAGE_FILES.join(', ')}) are not in dist/ui beside the package's code (looked from ${__dirname}); rebuild or reinstall tokenfence`);
  }
  let html = readFileSync(join(directory, 'index.html'), 'utf8');
  html = setMeta(html, 'api', options.apiPath ?? '/rest/api-tokens/latest');
  html = setMeta(html, 'session', options.sessionPath ?? '/rest/auth/1/session');
  const asset = (file: string, type: string): Asset => {
    const body = readFileSync(join(directory, file));
    // Revalidated on every load (a cheap 304), so an upgrade of the package is picked up at once.
    return { body, type, cacheControl: 'no-cache', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  };
  const page: Asset = { body: Buffer.from(html, 'utf8'), type: 'text/html; charset=utf-8', cacheControl: 'no-store' };
  const script = asset('app.js', 'text/javascript; charset=utf-8');
  const style = asset('app.css', 'text/css; charset=utf-8');
  // The page names its own icon, so a browser does not ask the host for /favicon.ico (a 404 in its console).
  const icon = asset('favicon.svg', 'image/svg+xml');

  const send = (req: Request, res: Response, what: Asset): void => {
    setSecurityHeaders(res);
    res.setHeader('Cache-Control', what.cacheControl);
    if (what.etag !== undefined) {
      res.setHeader('ETag', what.etag);
      if (req.fresh) {
        res.statusCode = 304;
        res.end();
        return;
      }
    }
    res.setHeader('Content-Type', what.type);
    res.setHeader('Content-Length', String(what.body.length));
    res.statusCode = 200;
    res.end(what.body);
  };

  const router = express.Router();
  router.get('/', (req, res, next) => {
    const target = req.originalUrl;
    const path = target.split('?', 1)[0]!;
    if (path.endsWith('/')) {
      send(req, res, page);
      return;
    }
    // `/tokens` → `./tokens/`: relative, so it stays right behind a proxy that adds a prefix; the segment is
    // the mount's own, and a strange one is not echoed into a Location header.
    const segment = path.slice(path.lastIndexOf('/') + 1);
    if (!/^[A-Za-z0-9\-._~%]+$/.test(segment)) {
      next();
      return;
    }
    setSecurityHeaders(res);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(301, `./${segment}/${target.slice(path.length)}`);
  });
  router.get('/app.js', (req, res) => send(req, res, script));
  router.get('/app.css', (req, res) => send(req, res, style));
  router.get('/favicon.svg', (req, res) => send(req, res, icon));
  return router;
}
