// Jira clients work unchanged against the demo (issue 15): the npm `jira-client` package (v8), given an API
// token as its `bearer` or as the Basic password, reads who it is, finds, comments on and searches issues, and
// is refused a delete by the token's restrictions (403 restricted). The demo runs as `npm start` on a free
// port with a temporary data directory (an in-process import of the .mjs demo would need jest's VM modules).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, START_TIMEOUT_MS, startDemoProcess, type DemoProcess } from '../support/demo-process';

/** The part of jira-client's API this test uses (the package ships no types). */
interface JiraClient {
  getCurrentUser(): Promise<any>;
  findIssue(issueNumber: string): Promise<any>;
  addComment(issueId: string, comment: string): Promise<any>;
  searchJira(jql: string, options?: object): Promise<any>;
  deleteIssue(issueId: string): Promise<any>;
}
interface JiraClientOptions {
  protocol: string;
  host: string;
  port: string;
  apiVersion?: string;
  strictSSL?: boolean;
  timeout?: number;
  bearer?: string;
  username?: string;
  password?: string;
}
const JiraApi = require('jira-client') as new (options: JiraClientOptions) => JiraClient;

const SECOND = 1000;
const STOP_TIMEOUT_MS = 20 * SECOND;
const REQUEST_TIMEOUT_MS = 10 * SECOND;
const ALICE_PASSWORD = 'alice-jira-client-pw';
const ADMIN_PASSWORD = 'admin-jira-client-pw';
/** What alice's token may do: read, search, and comment on DEMO-1. Deleting an issue is not in it. */
const RESTRICTIONS = ['[GET]/rest/api/2/myself', '[GET]/rest/api/2/issue/DEMO-\\d+', '[GET,POST]/rest/api/2/search', '[POST]/rest/api/2/issue/DEMO-1/comment'].join('\n');

let dir: string;
let demo: DemoProcess | undefined;
let url: string;
const output = (): string => demo?.output() ?? '';

/** Logs `username` in with the session resource and creates a token through the management API, as the README does. */
async function createToken(username: string, password: string, body: object): Promise<{ token: string; id: string }> {
  const signal = () => AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const login = await fetch(`${url}/rest/auth/1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }), signal: signal() });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('JSESSIONID='))!.split(';', 1)[0]!;
  const created = await fetch(`${url}/rest/api-tokens/latest`, { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: cookie }, body: JSON.stringify(body), signal: signal() });
  expect(created.status).toBe(201);
  const answer = (await created.json()) as { token: string; record: { id: string } };
  return { token: answer.token, id: answer.record.id };
}

/** A jira-client pointed at the demo. */
function jira(auth: { bearer: string } | { username: string; password: string }): JiraClient {
  const { hostname, port } = new URL(url);
  return new JiraApi({ protocol: 'http', host: hostname, port, apiVersion: '2', strictSSL: true, timeout: REQUEST_TIMEOUT_MS, ...auth });
}

/** The error body a jira-client call was refused with (jira-client throws `new Error(JSON.stringify(body))`). */
async function refusal(call: Promise<unknown>): Promise<{ status: number; code: string }> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof Error)) throw new Error('the call was expected to be refused, and it succeeded');
  return (JSON.parse(error.message) as { error: { status: number; code: string } }).error;
}

let alice: { token: string; id: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfence-jira-client-'));
  demo = await startDemoProcess({ PORT: '0', HOST: '127.0.0.1', TOKENFENCE_DATA_DIR: join(dir, 'data'), TOKENFENCE_DEMO_USERS: `alice:${ALICE_PASSWORD},admin:${ADMIN_PASSWORD}` });
  url = demo.url;
  alice = await createToken('alice', ALICE_PASSWORD, { label: 'jira-client', expiresInDays: 7, restrictions: RESTRICTIONS });
}, START_TIMEOUT_MS + 30 * SECOND);

afterAll(async () => {
  try {
    if (demo !== undefined && demo.child.exitCode === null && demo.child.signalCode === null) {
      demo.child.kill('SIGTERM');
      const code = await demo.exited(STOP_TIMEOUT_MS);
      if (code !== 0) throw new Error(`the demo did not stop cleanly (${code})\n${output()}`);
    }
  } finally {
    killAll();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}, STOP_TIMEOUT_MS + 10 * SECOND);

describe.each([
  ['as the bearer token', () => ({ bearer: alice.token })],
  ['as the Basic password', () => ({ username: 'alice', password: alice.token })],
])('jira-client with the token %s', (how, auth) => {
  it('getCurrentUser, findIssue, addComment and searchJira work unchanged', async () => {
    const client = jira(auth());
    try {
      expect(await client.getCurrentUser()).toMatchObject({ name: 'alice', key: 'alice', displayName: 'Alice', active: true });

      const issue = await client.findIssue('DEMO-1');
      expect(issue).toMatchObject({ key: 'DEMO-1', id: '10001', fields: { summary: expect.any(String), status: { name: 'Done' }, project: { key: 'DEMO' } } });

      const comment = await client.addComment('DEMO-1', `Hello from jira-client (${how})`);
      expect(comment).toMatchObject({ id: expect.any(String), body: `Hello from jira-client (${how})`, author: { name: 'alice' } });
      expect((await client.findIssue('DEMO-1')).fields.comment.comments.map((c: { id: string }) => c.id)).toContain(comment.id);

      const found = await client.searchJira('project = DEMO', { maxResults: 3 });
      expect(found).toMatchObject({ startAt: 0, maxResults: 3, total: 5 });
      expect(found.issues.map((i: { key: string }) => i.key)).toEqual(['DEMO-1', 'DEMO-2', 'DEMO-3']);
    } catch (err) {
      if (err instanceof Error) err.message += `\n\nWhat the demo printed:\n${output()}`;
      throw err;
    }
  });

  it("deleteIssue is refused by the token's restrictions: 403 restricted, and the issue is still there", async () => {
    const client = jira(auth());
    expect(await refusal(client.deleteIssue('DEMO-2'))).toMatchObject({ status: 403, code: 'restricted' });
    // So is a comment on another issue than DEMO-1.
    expect(await refusal(client.addComment('DEMO-2', 'not allowed'))).toMatchObject({ status: 403, code: 'restricted' });
    expect((await client.findIssue('DEMO-2')).key).toBe('DEMO-2');
  });
});

test("jira-client's deleteIssue works for a token whose restrictions allow it (the admin's), so the 403 above is the restriction's", async () => {
  const admin = await createToken('admin', ADMIN_PASSWORD, { label: 'jira-client admin', expiresInDays: 1, restrictions: '[DELETE]/rest/api/2/issue/DEMO-5\n[GET]/rest/api/2/issue/DEMO-\\d+' });
  const client = jira({ username: 'admin', password: admin.token });
  await client.deleteIssue('DEMO-5');
  expect(await refusal(client.findIssue('DEMO-5'))).toMatchObject({ status: 404, code: 'issue_not_found' });
});

test('a wrong or unknown token gets 401 through jira-client, never anonymous access', async () => {
  expect(await refusal(jira({ bearer: `${alice.token.slice(0, -1)}${alice.token.endsWith('A') ? 'B' : 'A'}` }).getCurrentUser())).toMatchObject({ status: 401 });
  expect(await refusal(jira({ username: 'bob', password: alice.token }).getCurrentUser())).toMatchObject({ status: 401, code: 'user_mismatch' });
});
