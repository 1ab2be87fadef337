// The token management page in a real browser (SPEC §7, issue 15): Debian's Chromium through playwright-core
// drives the page served by tokenPage on a real Express 5 app — the whole stack: token guard, cookie sessions,
// XSRF on /rest, the session resource, tokenRouter with an administrator — by accessible names only (roles,
// labels, button names), as a person with a screen reader would. It signs in, creates a token whose
// restrictions are first wrong (the error with its line and column) and then fixed, tries requests with
// /check, copies the secret shown once and uses it, revokes after confirming, revokes another user's token as
// an administrator, and signs out; no console error, no CSP violation, and screenshots at each step.
//
// Chromium: /usr/bin/chromium (or TOKENFENCE_CHROMIUM). `.ci/run` installs it with apt and sets
// CI_REQUIRE_BROWSER=1, so CI fails rather than skips without it; elsewhere a missing browser skips the
// suite with a warning. Screenshots go to TOKENFENCE_SCREENSHOT_DIR, default <tmpdir>/tokenfence-page-screenshots.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page, type Response as PageResponse } from 'playwright-core';
import request from 'supertest';
import {
  createTokenService,
  memorySessionStorage,
  MemoryTokenStore,
  sessionRouter,
  tokenGuard,
  tokenRouter,
  xsrfProtection,
  type TokenService,
} from '../../../src/index';
import { TOKEN_PAGE_CSP, tokenPage } from '../../../src/http/manage/page';
import { listen, type TestServer } from '../../support/http';

const CHROMIUM = process.env.TOKENFENCE_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = !['', '0', 'false'].includes(process.env.CI_REQUIRE_BROWSER ?? '');
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SHOTS = process.env.TOKENFENCE_SCREENSHOT_DIR ?? join(tmpdir(), 'tokenfence-page-screenshots');
const MOUNT = '/rest/api-tokens/latest';
const SESSION = '/rest/auth/1/session';
const USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw' };
const MAX_LIFETIME_DAYS = 400;

if (!HAVE_CHROMIUM && !REQUIRED) {
  console.warn(
    `SKIPPED: the browser test of the token page (test/e2e/page) needs Chromium at ${CHROMIUM}, which is missing. ` +
      "Install Debian's chromium (apt-get install chromium) or set TOKENFENCE_CHROMIUM; CI (.ci/run) installs it and sets CI_REQUIRE_BROWSER=1, which turns this skip into a failure.",
  );
}

/**
 * What must not happen on a page: console errors (Chromium reports CSP violations there), uncaught errors,
 * and failed requests — except the refusals the test provokes on purpose, listed as `status path`.
 */
function watch(page: Page, base: string, expected: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const pathOf = (url: string): string => (url.startsWith(base) ? url.slice(base.length) : url);
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() !== 'error') return;
    // A refused fetch is logged as "Failed to load resource: … status of 401 (…)" at the resource's URL.
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text())?.[1];
    if (status !== undefined && expected.has(`${status} ${pathOf(message.location().url)}`)) return;
    problems.push(`console error: ${message.text()} (at ${message.location().url})`);
  });
  page.on('pageerror', (error: Error) => problems.push(`uncaught: ${error.message}`));
  page.on('response', (response: PageResponse) => {
    const status = response.status();
    if (status >= 400 && !expected.has(`${status} ${pathOf(response.url())}`)) problems.push(`HTTP ${status} for ${response.request().method()} ${response.url()}`);
  });
  return problems;
}

(HAVE_CHROMIUM || REQUIRED ? describe : describe.skip)('the token management page in Chromium', () => {
  let server: TestServer;
  let tokens: TokenService;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let shot = 0;
  /** The secret the page showed, for the calls the test makes with it. */
  let secret = '';

  // Refusals the steps below provoke, as `status path`.
  const EXPECTED = new Set([`401 ${SESSION}`, `403 ${SESSION}`, `403 ${MOUNT}/admin/all`, `422 ${MOUNT}/`]);

  const screenshot = async (name: string): Promise<void> => {
    shot += 1;
    await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  /** The live region (role=status or alert) that shows `text`, once it does. */
  const message = async (role: 'status' | 'alert', text: string | RegExp) => {
    const region = page.getByRole(role).filter({ hasText: text });
    await region.waitFor();
    return region;
  };
  const signIn = async (user: string, password: string): Promise<void> => {
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  const guarded = (method: 'get' | 'delete', path: string, authorization: string) => request(base)[method](path).set('Authorization', authorization);

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) {
      throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set TOKENFENCE_CHROMIUM. CI_REQUIRE_BROWSER is set, so the browser test fails instead of skipping.`);
    }
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });

    tokens = createTokenService({ store: new MemoryTokenStore(), policy: { maxLifetimeDays: MAX_LIFETIME_DAYS } });
    const sessions = sessionRouter({
      storage: memorySessionStorage(),
      secret: 'page-test-session-secret-of-32-chars!',
      verifyPassword: (user, password) => USERS[user] === password,
      ipLimit: false,
      maxFailedLogins: 3,
      loginUrl: '/login',
    });
    const app = express();
    app.disable('x-powered-by');
    app.use(tokenGuard({ tokens }));
    app.use(sessions.middleware);
    app.use('/rest', xsrfProtection({ secret: 'page-test-form-token-secret-32-chars' }));
    app.use(SESSION, sessions);
    app.use(MOUNT, tokenRouter({ tokens, isAdmin: (user) => user === 'admin' }));
    app.get('/rest/api/2/myself', (req, res) => res.json({ name: req.tokenfence?.user ?? null }));
    app.delete('/rest/api/2/issue/:key', (_req, res) => res.status(204).end());
    app.use('/tokens', tokenPage({ apiPath: MOUNT, sessionPath: SESSION }));
    // A page that breaks the policy on purpose, to show that the watcher sees CSP violations.
    app.get('/csp-canary', (_req, res) => {
      res.setHeader('Content-Security-Policy', TOKEN_PAGE_CSP);
      res.type('html').send('<!doctype html><title>canary</title><p style="color: red">inline style</p><script>document.title = "ran"</script>');
    });
    server = await listen(app);
    base = `http://127.0.0.1:${server.port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    problems = watch(page, base, EXPECTED);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await tokens?.close();
    if (HAVE_CHROMIUM) console.log(`token page screenshots: ${SHOTS}`);
  });

  test('the watcher sees a CSP violation (so its silence below means something)', async () => {
    const canary = await context.newPage();
    const seen = watch(canary, base, new Set());
    await canary.goto('/csp-canary');
    await canary.waitForLoadState('load');
    expect(await canary.title()).toBe('canary');
    await canary.close();
    expect(seen.some((p) => /Content Security Policy/i.test(p))).toBe(true);
  });

  test('signed out: the sign-in form; a CAPTCHA challenge and a wrong password are explained', async () => {
    const response = await page.goto('/tokens');
    expect(page.url()).toBe(`${base}/tokens/`);
    expect(response?.headers()['content-security-policy']).toBe(TOKEN_PAGE_CSP);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot('signed-out');

    // bob failed three times: the next login needs a CAPTCHA, whatever the password.
    for (let i = 0; i < 3; i++) await request(base).post(SESSION).set('Content-Type', 'application/json').send({ username: 'bob', password: 'wrong' }).expect(401);
    await signIn('bob', USERS.bob!);
    const captcha = await message('alert', /needs a CAPTCHA/);
    expect(await captcha.getByRole('link', { name: 'Sign in through the login page' }).getAttribute('href')).toBe(`${base}/login`);
    await screenshot('captcha-needed');

    await signIn('alice', 'not-her-password');
    await message('alert', 'Login failed: the user name or the password is wrong.');
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    await screenshot('wrong-password');

    await signIn('alice', USERS.alice!);
    await page.getByText('Signed in as alice', { exact: true }).waitFor();
    await page.getByText('You have no API tokens yet.').waitFor();
    // Not an administrator: GET /admin/all answered 403, and the admin view stays hidden.
    expect(await page.getByRole('heading', { name: "All users' tokens" }).count()).toBe(0);
  });

  test('restrictions are validated as you type: an error with its line and column, then fixed', async () => {
    await page.getByLabel('Name', { exact: true }).fill('ci-script');
    await page.getByLabel('Expires in days').fill('3');
    const restrictions = page.getByLabel('Restrictions');
    await restrictions.fill('[GET]/rest/api/2/myself\n[FROB]/rest/api/2/issue/DEMO-1');
    const problem = page.getByRole('button', { name: /^Error at line 2, column 2: unknown method `FROB`/ });
    await problem.waitFor();
    await message('status', 'The restrictions have 1 error.');
    expect(await restrictions.getAttribute('aria-invalid')).toBe('true');
    await screenshot('restrictions-error');

    await restrictions.fill('[GET]/rest/api/2/myself\n[GET]/rest/api/2/issue/[A-Z]+-\\d+');
    await message('status', 'The restrictions are valid.');
    await problem.waitFor({ state: 'detached' });
    expect(await restrictions.getAttribute('aria-invalid')).toBe('false');
  });

  test('try a request: /check allows one and denies another, with the explanation', async () => {
    await page.getByLabel('Method').selectOption('GET');
    await page.getByLabel('Request URL').fill('/rest/api/2/issue/DEMO-1');
    await page.getByRole('button', { name: 'Try request' }).click();
    await message('status', /^Allowed by line 2: /);

    await page.getByLabel('Method').selectOption('DELETE');
    await page.getByRole('button', { name: 'Try request' }).click();
    const denied = await message('status', /^Denied: /);
    expect(await denied.textContent()).toMatch(/DELETE/);
    await screenshot('try-a-request');
  });

  test("the lifetime policy's refusal is shown", async () => {
    await page.getByLabel('Expires in days').fill('500');
    await page.getByRole('button', { name: 'Create token' }).click();
    await message('alert', `the lifetime is over the limit of ${MAX_LIFETIME_DAYS} days (policy.maxLifetimeDays)`);
    await page.getByLabel('Expires in days').fill('3');
  });

  test('create: the secret once beside its snippets, copied; it works as Bearer and Basic; Done clears it', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await message('status', 'Token created. Copy it now: it is shown only this once.');
    secret = await page.getByLabel('Token secret').inputValue();
    expect(secret).toMatch(/^tfk_/);
    for (const name of ['curl with Bearer', 'curl with Basic', 'JavaScript fetch', 'PowerShell']) {
      const figure = page.getByRole('figure', { name });
      expect(await figure.textContent()).toContain(name === 'curl with Bearer' || name === 'curl with Basic' ? secret : name === 'PowerShell' ? 'Invoke-RestMethod' : 'await fetch(');
    }
    await page.getByRole('button', { name: 'Copy token' }).click();
    await message('status', 'Token copied to the clipboard.');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await screenshot('secret-shown-once');

    // The copied secret works, and its restrictions hold.
    expect((await guarded('get', '/rest/api/2/myself', `Bearer ${secret}`)).body).toEqual({ name: 'alice' });
    expect((await guarded('get', '/rest/api/2/myself', `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}`)).body).toEqual({ name: 'alice' });
    const refused = await guarded('delete', '/rest/api/2/issue/DEMO-1', `Bearer ${secret}`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('restricted');

    await page.getByRole('button', { name: 'Done' }).click();
    await message('status', 'The secret is cleared from the page.');
    expect(await page.getByLabel('Token secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByText('Signed in as alice', { exact: true }).waitFor();
    expect(await page.content()).not.toContain(secret);
  });

  test('the list shows the token: expires soon, its usage and its rules; a token without expiry is not marked', async () => {
    const row = page.getByRole('row', { name: /ci-script/ });
    await row.waitFor();
    expect(await row.textContent()).toContain('Expires soon');
    // Created, Last used, Expires, Usage, Restrictions (the name is the row header).
    const cells = row.getByRole('cell');
    expect(await cells.nth(3).textContent()).toBe('3');
    expect(await cells.nth(1).textContent()).not.toBe('Never');
    expect(await cells.nth(4).textContent()).toContain('2 rules');

    await page.getByLabel('Name', { exact: true }).fill('long-lived');
    await page.getByRole('checkbox', { name: 'No expiry' }).check();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('button', { name: 'Done' }).click();
    const other = page.getByRole('row', { name: /long-lived/ });
    await other.waitFor();
    expect(await other.textContent()).not.toContain('Expires soon');
    expect(await other.getByRole('cell').nth(4).textContent()).toBe('None: full access');
    await screenshot('token-list');
  });

  test('revoke asks first: Cancel keeps the token, "Revoke token" revokes it', async () => {
    await page.getByRole('button', { name: 'Revoke ci-script', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “ci-script”?' });
    await dialog.waitFor();
    await screenshot('revoke-confirmation');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByRole('row', { name: /ci-script/ }).count()).toBe(1);
    expect((await guarded('get', '/rest/api/2/myself', `Bearer ${secret}`)).status).toBe(200);

    await page.getByRole('button', { name: 'Revoke ci-script', exact: true }).click();
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await message('status', 'Revoked “ci-script”.');
    await page.getByRole('row', { name: /ci-script/ }).waitFor({ state: 'detached' });
    const after = await guarded('get', '/rest/api/2/myself', `Bearer ${secret}`);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('revoked');
  });

  test("an administrator sees every user's tokens grouped by user, and revokes another user's token", async () => {
    const bobs = await tokens.issue({ owner: 'bob', label: 'bob-script', expiresAt: new Date(Date.now() + 30 * 86_400_000) });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await message('status', 'You are signed out.');
    await signIn('admin', USERS.admin!);
    await page.getByText('Signed in as admin', { exact: true }).waitFor();

    const all = page.getByRole('region', { name: "All users' tokens" });
    await all.waitFor();
    const bobGroup = all.getByRole('region', { name: /^bob/ });
    const aliceGroup = all.getByRole('region', { name: /^alice/ });
    expect(await bobGroup.getByRole('row', { name: /bob-script/ }).count()).toBe(1);
    expect(await aliceGroup.getByRole('row', { name: /long-lived/ }).count()).toBe(1);
    expect(await aliceGroup.getByRole('row', { name: /ci-script/ }).count()).toBe(0);
    await screenshot('admin-view');

    await bobGroup.getByRole('button', { name: 'Revoke bob-script of bob', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “bob-script”?' });
    expect(await dialog.textContent()).toContain('This token of bob stops working at once.');
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await message('status', 'Revoked “bob-script”.');
    await bobGroup.waitFor({ state: 'detached' });
    expect((await tokens.get(bobs.record.id))!.revokedAt).not.toBeNull();
    expect((await guarded('get', '/rest/api/2/myself', `Bearer ${bobs.token}`)).status).toBe(401);
    expect(await aliceGroup.getByRole('row', { name: /long-lived/ }).count()).toBe(1);
  });

  test('sign out: back to the sign-in form, and it stays signed out after a reload', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await message('status', 'You are signed out.');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Your tokens' }).count()).toBe(0);
    await screenshot('signed-out-again');
  });

  test('no console error, no CSP violation, no unexpected failed request on the way', () => {
    expect(problems).toEqual([]);
  });
});
