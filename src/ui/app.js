// The token management page's script (SPEC §7): sign in with the session resource, then list, create and
// revoke tokens through the management API; restrictions validated as you type, a "try a request" box, the
// new secret shown once, and every user's tokens for administrators. Plain modern JavaScript, no framework, no
// build step. Everything from the server is rendered with textContent, never as HTML.

const meta = (name) => document.querySelector(`meta[name="tokenfence-${name}"]`)?.getAttribute('content') ?? '';
const API = meta('api');
const SESSION = meta('session');
const VALIDATE_DELAY_MS = 300;

const $ = (id) => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
};

/**
 * Makes an element: `props` are set as properties (`className`, `type`, `dateTime`…) or, for `aria-*`,
 * `data-*` and `for`, as attributes; children are elements or text (always text nodes).
 */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('aria-') || key.startsWith('data-') || key === 'for' || key === 'scope') element.setAttribute(key, String(value));
    else element[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// ---------------------------------------------------------------------------------------------------------
// Talking to the server

/** A refusal or failure of a call, with the §5 error body's code and message. */
class ApiError extends Error {
  constructor(status, code, message, details, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

/**
 * One call to the server with the session cookie: JSON in, JSON out. A body is always JSON (the XSRF check
 * lets a JSON body through); a call without one that changes state (DELETE) carries `X-Atlassian-Token:
 * no-check`, since a bodyless request is one a cross-site form could send.
 */
async function call(method, url, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (method !== 'GET' && method !== 'HEAD') {
    headers['X-Atlassian-Token'] = 'no-check';
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  const text = await response.text();
  let data;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const error = data?.error;
    const message = typeof error?.message === 'string' ? error.message : `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(response.status, typeof error?.code === 'string' ? error.code : `http_${response.status}`, message, error?.details, response.headers);
  }
  return data;
}

const api = (method, path, body) => call(method, `${API}${path}`, body);

// ---------------------------------------------------------------------------------------------------------
// Messages

function say(text) {
  $('alert').textContent = '';
  $('status').textContent = text;
}

function warn(text) {
  $('status').textContent = '';
  $('alert').textContent = text;
}

function clearMessages() {
  $('status').textContent = '';
  $('alert').textContent = '';
}

/** Reports a failed call: a lost session goes back to the sign-in form, anything else is an alert. */
function fail(error, where = $('alert')) {
  if (error instanceof ApiError && error.status === 401) {
    showSignedOut(error.message);
    return;
  }
  where.textContent = error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function time(iso) {
  return h('time', { dateTime: iso }, dateFormat.format(new Date(iso)));
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function daysLeft(days) {
  if (days < 1) return 'in less than a day';
  return `in ${plural(Math.round(days), 'day')}`;
}

function expiryCell(token) {
  if (token.expiresAt === null) return h('td', {}, 'Never');
  if (token.expired) return h('td', {}, h('span', { className: 'badge badge-expired' }, 'Expired'), ' ', time(token.expiresAt));
  return h(
    'td',
    {},
    time(token.expiresAt),
    h('span', { className: 'muted' }, ` (${daysLeft(token.expiresInDays)})`),
    token.expiresSoon ? [' ', h('span', { className: 'badge badge-soon' }, 'Expires soon')] : [],
  );
}

function lastUsedCell(token) {
  if (token.lastAccessed === null) return h('td', {}, 'Never');
  return h('td', {}, time(token.lastAccessed), token.lastAccessedIp ? h('span', { className: 'muted' }, ` from ${token.lastAccessedIp}`) : null);
}

function restrictionsCell(token) {
  const lines = token.restrictions.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) return h('td', {}, h('span', { className: 'muted' }, 'None: full access'));
  return h('td', {}, h('details', {}, h('summary', {}, plural(lines.length, 'rule')), h('pre', { className: 'mono' }, token.restrictions)));
}

/** A row of a token table, with its Revoke button (named after the token, and its owner in the admin view). */
function tokenRow(token, { showOwner }) {
  const owner = token.owner === null ? 'any user' : token.owner;
  const revoke = h('button', { type: 'button', className: 'danger' }, 'Revoke', h('span', { className: 'visually-hidden' }, showOwner ? ` ${token.label} of ${owner}` : ` ${token.label}`));
  revoke.addEventListener('click', () => confirmRevoke(token, revoke));
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, token.label),
    h('td', {}, time(token.createdAt)),
    lastUsedCell(token),
    expiryCell(token),
    h('td', { className: 'number' }, String(token.usageCount)),
    restrictionsCell(token),
    h('td', {}, revoke),
  );
}

function tokenTable(tokens, { showOwner, labelledBy }) {
  const head = h(
    'tr',
    {},
    ['Name', 'Created', 'Last used', 'Expires', 'Usage', 'Restrictions'].map((name) => h('th', { scope: 'col' }, name)),
    h('th', { scope: 'col' }, h('span', { className: 'visually-hidden' }, 'Actions')),
  );
  return h('div', { className: 'table-wrap' }, h('table', { 'aria-labelledby': labelledBy }, h('thead', {}, head), h('tbody', {}, tokens.map((t) => tokenRow(t, { showOwner })))));
}

// ---------------------------------------------------------------------------------------------------------
// Signed out, signed in

const state = { user: undefined, admin: false };

function showSignedOut(message) {
  state.user = undefined;
  state.admin = false;
  hideSecret();
  $('account').hidden = true;
  $('signed-in').hidden = true;
  $('signed-in-as').textContent = '';
  $('tokens-body').replaceChildren();
  $('admin-groups').replaceChildren();
  $('sign-in-section').hidden = false;
  $('sign-in-error').textContent = '';
  clearMessages();
  if (message !== undefined) $('alert').textContent = message;
}

async function showSignedIn(user) {
  state.user = user;
  $('sign-in-section').hidden = true;
  $('signed-in-as').textContent = `Signed in as ${user}`;
  $('account').hidden = false;
  $('signed-in').hidden = false;
  await Promise.all([loadTokens(), probeAdmin()]);
}

async function start() {
  try {
    const me = await call('GET', SESSION);
    await showSignedIn(me.name);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignedOut();
    else {
      showSignedOut();
      warn(error.message);
    }
  }
}

/** The login-url of a CAPTCHA challenge (`X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE; login-url=…`), when it is a web address. */
function captchaLoginUrl(headers) {
  const reason = headers?.get('X-Authentication-Denied-Reason') ?? '';
  const match = /login-url=([^;\s]+)/i.exec(reason);
  if (match === null) return undefined;
  try {
    const url = new URL(match[1], location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $('sign-in-error');
  error.replaceChildren();
  const username = $('sign-in-username').value;
  const password = $('sign-in-password').value;
  if (username === '' || password === '') {
    error.textContent = 'Enter your user name and your password.';
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await call('POST', SESSION, { username, password });
    $('sign-in-password').value = '';
    // The session's own name for the user (the host may spell it differently from what was typed).
    const me = await call('GET', SESSION);
    await showSignedIn(me.name);
    say(`Signed in as ${me.name}.`);
  } catch (failure) {
    $('sign-in-password').value = '';
    const loginUrl = failure instanceof ApiError && failure.code === 'captcha_required' ? captchaLoginUrl(failure.headers) : undefined;
    if (failure instanceof ApiError && failure.code === 'captcha_required') {
      error.append(
        'This account needs a CAPTCHA after too many failed sign-ins, and this page cannot show one. ',
        loginUrl === undefined ? 'Sign in through the login page first.' : h('a', { href: loginUrl }, 'Sign in through the login page'),
        loginUrl === undefined ? '' : ` (${loginUrl}) first.`,
      );
    } else {
      error.textContent = failure.message;
    }
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  try {
    await call('DELETE', SESSION);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      warn(error.message);
      return;
    }
  }
  showSignedOut();
  say('You are signed out.');
  $('sign-in-username').focus();
}

// ---------------------------------------------------------------------------------------------------------
// Lists

async function loadTokens() {
  try {
    const tokens = await api('GET', '/');
    $('tokens-body').replaceChildren(...tokens.map((t) => tokenRow(t, { showOwner: false })));
    $('tokens-table').hidden = tokens.length === 0;
    $('tokens-empty').hidden = tokens.length > 0;
  } catch (error) {
    fail(error);
  }
}

/** Shows the admin view when GET /admin/all answers (200); a non-admin gets 403 and sees nothing more. */
async function probeAdmin() {
  try {
    const groups = await api('GET', '/admin/all');
    state.admin = true;
    renderAdmin(groups);
  } catch (error) {
    state.admin = false;
    $('admin-section').hidden = true;
    $('admin-groups').replaceChildren();
    if (!(error instanceof ApiError && error.status === 403)) fail(error);
  }
}

function renderAdmin(groups) {
  $('admin-section').hidden = false;
  $('admin-empty').hidden = groups.length > 0;
  $('admin-groups').replaceChildren(
    ...groups.map((group, i) => {
      const id = `admin-group-${i}`;
      const who = group.username === null ? 'Any-user tokens' : group.username;
      return h('section', { className: 'group', 'aria-labelledby': id }, h('h3', { id }, who, h('span', { className: 'muted' }, ` (${plural(group.count, 'token')})`)), tokenTable(group.tokens, { showOwner: true, labelledBy: id }));
    }),
  );
}

async function refreshLists() {
  await Promise.all([loadTokens(), state.admin ? probeAdmin() : undefined]);
}

// ---------------------------------------------------------------------------------------------------------
// Revoke, after confirming

let pendingRevoke;

function confirmRevoke(token, opener) {
  const dialog = $('revoke-dialog');
  pendingRevoke = { token, opener };
  const owner = token.owner === null ? 'any user' : token.owner;
  $('revoke-title').textContent = `Revoke “${token.label}”?`;
  $('revoke-text').textContent =
    token.owner === state.user
      ? 'Scripts that use this token stop working at once. This cannot be undone.'
      : `This token of ${owner} stops working at once. This cannot be undone.`;
  dialog.showModal();
  $('revoke-cancel').focus();
}

function closeRevoke() {
  const dialog = $('revoke-dialog');
  if (dialog.open) dialog.close();
  const opener = pendingRevoke?.opener;
  pendingRevoke = undefined;
  if (opener?.isConnected) opener.focus();
}

async function revokeConfirmed() {
  const pending = pendingRevoke;
  if (pending === undefined) return;
  const button = $('revoke-confirm');
  button.disabled = true;
  try {
    await api('DELETE', `/${encodeURIComponent(pending.token.id)}`);
    $('revoke-dialog').close();
    pendingRevoke = undefined;
    say(`Revoked “${pending.token.label}”.`);
    await refreshLists();
    $('tokens-heading').focus();
  } catch (error) {
    closeRevoke();
    fail(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Restrictions, validated as you type

const validation = { seq: 0, timer: undefined };

function renderProblems(errors, warnings) {
  const textarea = $('create-restrictions');
  const items = [
    ...errors.map((d) => ({ ...d, severity: 'Error' })),
    ...warnings.map((d) => ({ ...d, severity: 'Warning' })),
  ].sort((a, b) => a.line - b.line || a.column - b.column);
  $('restrictions-problems').replaceChildren(
    ...items.map((d) => {
      const go = h('button', { type: 'button', className: `problem problem-${d.severity.toLowerCase()}` }, `${d.severity} at line ${d.line}, column ${d.column}: ${d.message}`);
      go.addEventListener('click', () => moveCaret(textarea, d.line, d.column));
      return h('li', {}, go);
    }),
  );
  textarea.setAttribute('aria-invalid', errors.length > 0 ? 'true' : 'false');
}

/** Puts the caret at line:column (both from 1) of the textarea. */
function moveCaret(textarea, line, column) {
  const lines = textarea.value.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += Math.max(0, column - 1);
  textarea.focus();
  textarea.setSelectionRange(offset, offset);
}

function scheduleValidation() {
  clearTimeout(validation.timer);
  validation.timer = setTimeout(validateNow, VALIDATE_DELAY_MS);
}

async function validateNow() {
  const text = $('create-restrictions').value;
  const seq = ++validation.seq;
  const summary = $('restrictions-summary');
  if (text.trim() === '') {
    renderProblems([], []);
    summary.textContent = '';
    return;
  }
  try {
    const result = await api('POST', '/validate', { restrictions: text });
    if (seq !== validation.seq) return; // a newer text is being checked
    renderProblems(result.errors, result.warnings);
    summary.className = `check ${result.ok ? 'ok' : 'bad'}`;
    summary.textContent = result.ok
      ? result.warnings.length === 0
        ? 'The restrictions are valid.'
        : `The restrictions are valid, with ${plural(result.warnings.length, 'warning')}.`
      : `The restrictions have ${plural(result.errors.length, 'error')}${result.warnings.length > 0 ? ` and ${plural(result.warnings.length, 'warning')}` : ''}.`;
  } catch (error) {
    if (seq !== validation.seq) return;
    summary.className = 'check bad';
    if (error instanceof ApiError && error.status === 401) fail(error);
    else summary.textContent = `The restrictions could not be checked: ${error.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Create, and the secret shown once

async function createToken(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $('create-error');
  error.textContent = '';
  const label = $('create-label').value.trim();
  if (label === '') {
    error.textContent = 'Give the token a name.';
    $('create-label').focus();
    return;
  }
  const body = { label };
  if ($('create-no-expiry').checked) body.expiresAt = null;
  else {
    const daysText = $('create-days').value.trim();
    if (daysText !== '') {
      const days = Number(daysText);
      if (!Number.isInteger(days) || days < 1 || days > 36500) {
        error.textContent = 'Expires in days must be a whole number from 1 to 36500, or leave it empty for the default.';
        $('create-days').focus();
        return;
      }
      body.expiresInDays = days;
    }
  }
  const restrictions = $('create-restrictions').value;
  if (restrictions.trim() !== '') body.restrictions = restrictions;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const issued = await api('POST', '/', body);
    form.reset();
    $('create-days').disabled = false;
    renderProblems([], []);
    $('restrictions-summary').textContent = '';
    showSecret(issued);
    await refreshLists();
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === 'invalid_restrictions' && Array.isArray(failure.details)) {
      renderProblems(failure.details, []);
    }
    fail(failure, error);
  } finally {
    button.disabled = false;
  }
}

const SNIPPETS = [
  ['curlBearer', 'curl with Bearer'],
  ['curlBasic', 'curl with Basic'],
  ['fetch', 'JavaScript fetch'],
  ['powershell', 'PowerShell'],
];

function showSecret(issued) {
  $('secret-heading').textContent = `Your new token “${issued.record.label}”`;
  $('secret-value').value = issued.token;
  $('snippets').replaceChildren(
    ...SNIPPETS.filter(([key]) => typeof issued.snippets?.[key] === 'string').map(([key, name], i) => {
      const id = `snippet-${i}`;
      const code = h('pre', { className: 'mono', id }, issued.snippets[key]);
      const copy = h('button', { type: 'button' }, 'Copy', h('span', { className: 'visually-hidden' }, ` ${name}`));
      copy.addEventListener('click', () => copyText(issued.snippets[key], code, `${name} copied to the clipboard.`));
      return h('figure', { className: 'snippet' }, h('figcaption', {}, name), code, copy);
    }),
  );
  $('secret-section').hidden = false;
  say('Token created. Copy it now: it is shown only this once.');
  $('secret-heading').focus();
}

/** Forgets the secret: clears it from the page, not only from sight. */
function hideSecret() {
  $('secret-value').value = '';
  $('snippets').replaceChildren();
  $('secret-heading').textContent = 'Your new token';
  $('secret-section').hidden = true;
}

/** Copies with the clipboard API; where it is refused, selects the text so that Ctrl+C copies it. */
async function copyText(text, element, done) {
  try {
    if (navigator.clipboard?.writeText === undefined) throw new Error('no clipboard API');
    await navigator.clipboard.writeText(text);
    say(done);
  } catch {
    if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) {
      element.focus();
      element.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(element);
      const selection = getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
    }
    say('The browser did not allow copying: the text is selected, press Ctrl+C (or ⌘C) to copy it.');
  }
}

// ---------------------------------------------------------------------------------------------------------
// Try a request

async function tryRequest(event) {
  event.preventDefault();
  const result = $('try-result');
  result.replaceChildren();
  result.className = 'decision';
  const url = $('try-url').value.trim();
  if (!url.startsWith('/')) {
    result.textContent = 'Enter the request URL as a path that starts with “/”, such as /rest/api/2/issue/DEMO-1.';
    result.classList.add('bad');
    return;
  }
  const request = { method: $('try-method').value, url };
  const contentType = $('try-content-type').value.trim();
  const bodyText = $('try-body').value.trim();
  if (bodyText !== '') {
    try {
      request.body = JSON.parse(bodyText);
    } catch (error) {
      result.textContent = `The JSON body does not parse: ${error.message}`;
      result.classList.add('bad');
      return;
    }
    request.contentType = contentType === '' ? 'application/json' : contentType;
  } else if (contentType !== '') {
    request.contentType = contentType;
  }
  try {
    const decision = await api('POST', '/check', { restrictions: $('create-restrictions').value, request });
    const verdict = decision.allowed ? 'Allowed' : 'Denied';
    // The explanation starts with its own verdict ("allowed by line 2: …", "denied: no rule matched …").
    const word = new RegExp(`^${verdict}`, 'i');
    const rest = word.test(decision.explanation) ? decision.explanation.replace(word, '') : `: ${decision.explanation}`;
    result.classList.add(decision.allowed ? 'ok' : 'bad');
    result.append(h('strong', {}, verdict), rest);
  } catch (error) {
    result.classList.add('bad');
    if (error instanceof ApiError && error.code === 'invalid_restrictions') {
      result.textContent = 'The restrictions above have errors; fix them first.';
      if (Array.isArray(error.details)) renderProblems(error.details, []);
    } else fail(error, result);
  }
}

// ---------------------------------------------------------------------------------------------------------

function main() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('create-form').addEventListener('submit', createToken);
  $('create-no-expiry').addEventListener('change', (event) => {
    $('create-days').disabled = event.currentTarget.checked;
  });
  $('create-restrictions').addEventListener('input', scheduleValidation);
  $('try-form').addEventListener('submit', tryRequest);
  $('copy-secret').addEventListener('click', () => copyText($('secret-value').value, $('secret-value'), 'Token copied to the clipboard.'));
  $('secret-done').addEventListener('click', () => {
    hideSecret();
    say('The secret is cleared from the page.');
    $('tokens-heading').focus();
  });
  $('revoke-confirm').addEventListener('click', revokeConfirmed);
  $('revoke-cancel').addEventListener('click', closeRevoke);
  // Escape closes the dialog without revoking.
  $('revoke-dialog').addEventListener('cancel', () => {
    pendingRevoke = undefined;
  });
  start();
}

main();
