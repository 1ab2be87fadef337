// tokenPage (src/http/manage/page.ts): the page and its two assets with the strict headers, the API paths in
// meta tags, the files found from the sources and from the build, and options refused with a TypeError.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { findPageDirectory, PAGE_FILES, TOKEN_PAGE_CSP, tokenPage, type TokenPageOptions } from '../../../../src/http/manage/page';
import { EXPRESS_FLAVOURS } from '../../../support/http';

const root = resolve(__dirname, '..', '..', '..', '..');
const UI = join(root, 'src', 'ui');


const SECURITY_HEADERS = {
  'content-security-policy': TOKEN_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

describe.each(EXPRESS_FLAVOURS)('tokenPage on $name', (flavour) => {
  const app = (options?: TokenPageOptions) => flavour.create().use('/tokens', tokenPage(options));

  test('serves the page at the mount path with the strict headers, no-store and the default API paths', async () => {
    const r = await request(app()).get('/tokens/');
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    expect(r.text).toContain('<meta name="tokenfence-api" content="/rest/api-tokens/latest">');
    expect(r.text).toContain('<meta name="tokenfence-session" content="/rest/auth/1/session">');
    expect(TOKEN_PAGE_CSP).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  });

  test('the mount path without its slash redirects to it, relatively (the page links its assets relatively)', async () => {
    const r = await request(app()).get('/tokens?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('./tokens/?x=1');
    expect(r.headers['content-security-policy']).toBe(TOKEN_PAGE_CSP);
    const html = (await request(app()).get('/tokens/')).text;
    expect(html).toContain('<link rel="stylesheet" href="app.css">');
    expect(html).toContain('<script type="module" src="app.js"></script>');
  });

  test('serves app.js, app.css and the icon with their types, the same headers, and an ETag (304 when fresh)', async () => {
    for (const [file, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8'],
      ['favicon.svg', 'image/svg+xml'],
    ] as const) {
      const r = await request(app()).get(`/tokens/${file}`);
      expect(r.status).toBe(200);
      expect(r.headers).toMatchObject({ ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-cache', etag: expect.stringMatching(/^"[\w-]{27}"$/) });
      // superagent buffers an image as `body` (a Buffer), text as `text`.
      expect(r.text ?? Buffer.from(r.body as Buffer).toString('utf8')).toBe(readFileSync(join(UI, file), 'utf8'));
      const again = await request(app()).get(`/tokens/${file}`).set('If-None-Match', r.headers.etag!);
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
    }
  });

  test('passes apiPath and sessionPath to the page in meta tags', async () => {
    const r = await request(app({ apiPath: '/jira/rest/api-tokens/1.0', sessionPath: '/jira/rest/auth/1/session' })).get('/tokens/');
    expect(r.text).toContain('<meta name="tokenfence-api" content="/jira/rest/api-tokens/1.0">');
    expect(r.text).toContain('<meta name="tokenfence-session" content="/jira/rest/auth/1/session">');
  });

  test('other paths and methods are not its business', async () => {
    expect((await request(app()).get('/tokens/index.html')).status).toBe(404);
    expect((await request(app()).post('/tokens/')).status).toBe(404);
  });

  test('HEAD gives the headers without a body', async () => {
    const r = await request(app()).head('/tokens/');
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toBe(TOKEN_PAGE_CSP);
    expect(r.text).toBeUndefined();
  });

});

describe('tokenPage', () => {
  test('the page has no inline script or style, and every form field has a label', () => {
    const html = readFileSync(join(UI, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/<style/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//i);
    const ids = [...html.matchAll(/<(?:input|select|textarea)\b[^>]*\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(5);
    for (const id of ids) expect(html).toContain(`<label for="${id}">`);
    const js = readFileSync(join(UI, 'app.js'), 'utf8');
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
  });

  test.each([
    [{ apiPath: 'rest/api-tokens/latest' }, /options\.apiPath must be a path on this origin .*got "rest\/api-tokens\/latest"/],
    [{ apiPath: '/rest/api-tokens/latest/' }, /options\.apiPath .*no trailing "\/"/],
    [{ apiPath: 'https://elsewhere.example/rest' }, /options\.apiPath/],
    [{ apiPath: '/rest/x"><script>' }, /options\.apiPath/],
    [{ sessionPath: '/rest/auth/1/session?x=1' }, /options\.sessionPath .*'\/rest\/auth\/1\/session'/],
    [{ sessionPath: 42 }, /options\.sessionPath/],
    [{ apiPth: '/x' }, /tokenPage: unknown option "apiPth"; did you mean "apiPath"\?/],
    [{ api: '/x' }, /unknown option "api"; the option is "apiPath"/],
    [null, /tokenPage takes an options object/],
    ['/rest', /tokenPage takes an options object/],
  ])('refuses %p with a TypeError naming the option', (options, message) => {
    expect(() => tokenPage(options as TokenPageOptions)).toThrow(TypeError);
    expect(() => tokenPage(options as TokenPageOptions)).toThrow(message);
  });
});

describe('findPageDirectory', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'tokenfence-page-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const layout = (base: string, uiFolder: string, codeFolder: string): string => {
    mkdirSync(join(base, uiFolder), { recursive: true });
    mkdirSync(join(base, codeFolder), { recursive: true });
    for (const file of PAGE_FILES) copyFileSync(join(UI, file), join(base, uiFolder, file));
    return join(base, codeFolder);
  };

  test('the sources: src/http/manage → src/ui (as ts-jest runs them)', () => {
    expect(findPageDirectory(join(root, 'src', 'http', 'manage'))).toBe(UI);
  });

  test('an installed package: dist/cjs/http/manage → dist/ui', () => {
    const from = layout(join(scratch, 'installed', 'node_modules', 'tokenfence'), 'dist/ui', 'dist/cjs/http/manage');
    expect(findPageDirectory(from)).toBe(join(scratch, 'installed', 'node_modules', 'tokenfence', 'dist', 'ui'));
  });

  test('a checkout built without the copy: dist/cjs/http/manage → src/ui', () => {
    const from = layout(join(scratch, 'checkout'), 'src/ui', 'dist/cjs/http/manage');
    expect(findPageDirectory(from)).toBe(join(scratch, 'checkout', 'src', 'ui'));
  });

  test('a folder that lacks one of the files does not count; none at all is undefined', () => {
    const from = layout(join(scratch, 'partial'), 'dist/ui', 'dist/cjs/http/manage');
    rmSync(join(scratch, 'partial', 'dist', 'ui', 'app.css'));
    expect(findPageDirectory(from)).toBeUndefined();
  });

  // The build (npm test runs it first) is what users run: its page.js must find the files and serve them.
  const built = join(root, 'dist', 'cjs', 'http', 'manage', 'page.js');
  (existsSync(built) ? test : test.skip)('the built page.js finds the files (dist/ui, or src/ui in this checkout) and serves them', () => {
    const script = `
      const express = require('express');
      const { tokenPage } = require(${JSON.stringify(built)});
      const app = express().use('/tokens', tokenPage());
      const server = app.listen(0, '127.0.0.1', async () => {
        const base = 'http://127.0.0.1:' + server.address().port + '/tokens/';
        const page = await fetch(base);
        const js = await fetch(base + 'app.js');
        console.log(JSON.stringify({ page: page.status, csp: page.headers.get('content-security-policy'), js: js.status, type: js.headers.get('content-type'), length: (await js.text()).length }));
        server.close();
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ page: 200, csp: TOKEN_PAGE_CSP, js: 200, type: 'text/javascript; charset=utf-8', length: readFileSync(join(UI, 'app.js'), 'utf8').length });
  });
});
