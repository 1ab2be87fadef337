// The demo's data directory: a 0700 folder holding the stores, the audit log, the users (scrypt hashes) and
// the secrets the demo generates once, so that a restart keeps sessions, form tokens and API tokens valid.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashPassword } from 'tokenfence';

/** Creates the data directory (0700) when missing and returns its absolute path and the paths in it. */
export function openDataDir(dir, warn) {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if ((statSync(root).mode & 0o077) !== 0) warn(`the data directory ${root} is readable by other users; it holds password hashes and secrets (chmod 700 it)`);
  return {
    root,
    tokens: join(root, 'tokens.db'),
    sessions: join(root, 'sessions.db'),
    audit: join(root, 'audit.jsonl'),
    users: join(root, 'users.json'),
    secrets: join(root, 'secrets.json'),
  };
}

/** Writes a file readable by its owner only, atomically (a crash leaves the old file or the new one). */
function writePrivate(path, value) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`${path} is not readable JSON (${err.message}); fix or delete it`);
  }
}

const SECRET_NAMES = ['sessionSecret', 'xsrfSecret', 'tokenPepper'];

/**
 * The session cookie secret, the XSRF form-token secret and the token pepper: read from `secrets.json`, or
 * generated (32 random bytes each) and written there on the first start. Losing the pepper makes every API
 * token unusable, so the file is never rewritten once it exists.
 */
export function loadSecrets(path) {
  const stored = readJson(path);
  if (stored !== undefined) {
    for (const name of SECRET_NAMES) {
      if (typeof stored[name] !== 'string' || stored[name].length < 32) throw new Error(`${path}: "${name}" is missing or shorter than 32 characters; delete the file to generate new secrets (existing sessions and API tokens then stop working)`);
    }
    return stored;
  }
  const secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, randomBytes(32).toString('base64url')]));
  writePrivate(path, secrets);
  return secrets;
}

const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** Reads `TOKENFENCE_DEMO_USERS` (`name:password,…`; a password may hold `:` but not `,`). */
export function parseDemoUsers(text) {
  const users = [];
  for (const entry of text.split(',')) {
    const colon = entry.indexOf(':');
    const name = (colon < 0 ? entry : entry.slice(0, colon)).trim();
    const password = colon < 0 ? '' : entry.slice(colon + 1);
    if (!USER_NAME.test(name)) throw new Error(`TOKENFENCE_DEMO_USERS: ${JSON.stringify(name)} is not a user name (1 to 64 letters, digits, '.', '_', '@' or '-'); write name:password,name:password`);
    if (password === '') throw new Error(`TOKENFENCE_DEMO_USERS: user ${name} has no password; write name:password,name:password`);
    if (users.some((u) => u.name.toLowerCase() === name.toLowerCase())) throw new Error(`TOKENFENCE_DEMO_USERS: user ${name} is listed twice`);
    users.push({ name, password });
  }
  return users;
}

/**
 * The demo's users, `[{ name, passwordHash, admin }]` in order (the user `admin` is the administrator):
 * - with `usersText` (TOKENFENCE_DEMO_USERS), hashed and written to `users.json`;
 * - else the ones in `users.json`;
 * - else `admin` and `alice` with random passwords, written to `users.json`; their passwords are returned
 *   in `generated`, the only time they exist outside the caller's memory.
 */
export async function loadUsers(path, usersText) {
  let plain;
  let generated;
  if (usersText !== undefined && usersText.trim() !== '') {
    plain = parseDemoUsers(usersText);
  } else {
    const stored = readJson(path);
    if (stored !== undefined) {
      if (!Array.isArray(stored.users) || stored.users.some((u) => typeof u?.name !== 'string' || typeof u.passwordHash !== 'string')) {
        throw new Error(`${path} must hold { "users": [{ "name", "passwordHash" }] }; delete it to generate new users`);
      }
      return { users: stored.users.map((u) => ({ name: u.name, passwordHash: u.passwordHash, admin: u.name === 'admin' })), generated: undefined };
    }
    plain = ['admin', 'alice'].map((name) => ({ name, password: randomBytes(12).toString('base64url') }));
    generated = plain;
  }
  const users = [];
  for (const { name, password } of plain) users.push({ name, passwordHash: await hashPassword(password), admin: name === 'admin' });
  writePrivate(path, { users: users.map(({ name, passwordHash }) => ({ name, passwordHash })) });
  return { users, generated };
}
