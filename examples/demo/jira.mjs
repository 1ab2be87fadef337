// The demo's Jira-like REST resources under /rest/api/2, with Jira's response shapes so that Jira clients
// work against them: myself, issues DEMO-1…DEMO-5 (get, edit, delete, comment, worklogs), search with a
// tiny JQL, and filters. Kept in memory: a restart brings the issues back as they were.
import express from 'express';
import { callerOf, HttpError } from 'tokenfence';
import { compileJql, JqlError } from './jql.mjs';

/**
 * An error the demo answers with: tokenfence's error body (`{ error: { status, code, message } }`), plus
 * Jira's `errorMessages` and `errors`, which Jira clients read.
 */
export class DemoError extends HttpError {
  constructor(status, code, message, errors = {}) {
    super(status, code, message);
    this.name = 'DemoError';
    this.errors = errors;
  }

  toJSON() {
    return { ...super.toJSON(), errorMessages: Object.keys(this.errors).length === 0 ? [this.message] : [], errors: this.errors };
  }
}

const originOf = (req) => `${req.protocol}://${req.get('host') ?? 'localhost'}`;
const displayName = (name) => name.charAt(0).toUpperCase() + name.slice(1);

/** Jira's user object. */
export const userBody = (req, name) => ({
  self: `${originOf(req)}/rest/api/2/user?username=${encodeURIComponent(name)}`,
  key: name,
  name,
  emailAddress: `${name}@example.com`,
  displayName: displayName(name),
  active: true,
  timeZone: 'UTC',
});

const STATUSES = { todo: { id: '10000', name: 'To Do' }, progress: { id: '3', name: 'In Progress' }, done: { id: '10001', name: 'Done' } };

const SEED = [
  ['Set up the token guard on /rest', 'Mount tokenGuard before the routes; tokens outside /rest get 403.', STATUSES.done, ['security']],
  ['Log in with a session cookie', 'POST /rest/auth/1/session with a JSON body {username, password}.', STATUSES.progress, ['session']],
  ['Refuse forged form posts', 'A form post with the session cookie needs X-Atlassian-Token: no-check or an atl_token.', STATUSES.todo, ['xsrf']],
  ['Restrict what each token may do', 'Create a token with restrictions at POST /rest/api-tokens/latest; calls outside them get 403 restricted.', STATUSES.todo, []],
  ['Audit every token call', 'Every token call, login and XSRF refusal lands in audit.jsonl.', STATUSES.todo, ['audit']],
];

/** Creates the issues, comments, worklogs and filters of a fresh demo. */
function seedData(adminName, clock) {
  const created = new Date(clock() - 7 * 86_400_000).toISOString();
  const issues = new Map();
  SEED.forEach(([summary, description, status, labels], i) => {
    const n = i + 1;
    issues.set(`DEMO-${n}`, {
      id: String(10000 + n),
      key: `DEMO-${n}`,
      fields: { summary, description, status, labels, created, updated: created, reporter: adminName },
      comments: [],
      worklogs:
        n <= 2
          ? [{ id: String(20000 + n), author: adminName, comment: `Worked on DEMO-${n}`, started: created, timeSpentSeconds: 3600 * n }]
          : [],
    });
  });
  return { issues, filters: new Map(), nextId: 30000 };
}

/**
 * The router to mount at `/rest/api/2`. Every resource needs a caller (`callerOf(req)`: an API token or the
 * session); anonymous calls get 401. `isAdmin(name)` says who may delete issues and read every filter.
 */
export function jiraRouter({ isAdmin, adminName = 'admin', clock = () => Date.now() }) {
  const data = seedData(adminName, clock);
  const router = express.Router();

  router.use((req, res, next) => {
    const caller = callerOf(req);
    if (caller === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tokenfence"');
      next(new DemoError(401, 'not_authenticated', 'You are not authenticated: log in at /rest/auth/1/session or send an API token (Authorization: Bearer …).'));
      return;
    }
    res.locals.user = caller.user;
    next();
  });

  const issueBody = (req, issue) => {
    const origin = originOf(req);
    const f = issue.fields;
    return {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id: issue.id,
      self: `${origin}/rest/api/2/issue/${issue.id}`,
      key: issue.key,
      fields: {
        summary: f.summary,
        description: f.description,
        status: { self: `${origin}/rest/api/2/status/${f.status.id}`, id: f.status.id, name: f.status.name },
        issuetype: { id: '10002', name: 'Task', subtask: false },
        project: { self: `${origin}/rest/api/2/project/10000`, id: '10000', key: 'DEMO', name: 'Demo' },
        labels: f.labels,
        reporter: userBody(req, f.reporter),
        assignee: null,
        created: f.created,
        updated: f.updated,
        comment: { comments: issue.comments.map((c) => commentBody(req, issue, c)), maxResults: issue.comments.length, total: issue.comments.length, startAt: 0 },
      },
    };
  };
  const commentBody = (req, issue, c) => ({
    self: `${originOf(req)}/rest/api/2/issue/${issue.id}/comment/${c.id}`,
    id: c.id,
    author: userBody(req, c.author),
    body: c.body,
    updateAuthor: userBody(req, c.author),
    created: c.created,
    updated: c.created,
    ...(c.visibility !== undefined && { visibility: c.visibility }),
  });
  const worklogBody = (req, issue, w) => ({
    self: `${originOf(req)}/rest/api/2/issue/${issue.id}/worklog/${w.id}`,
    author: userBody(req, w.author),
    updateAuthor: userBody(req, w.author),
    comment: w.comment,
    created: w.started,
    updated: w.started,
    started: w.started,
    timeSpent: `${w.timeSpentSeconds / 3600}h`,
    timeSpentSeconds: w.timeSpentSeconds,
    id: w.id,
    issueId: issue.id,
  });
  const filterBody = (req, f) => {
    const origin = originOf(req);
    return {
      self: `${origin}/rest/api/2/filter/${f.id}`,
      id: f.id,
      name: f.name,
      description: f.description,
      owner: userBody(req, f.owner),
      jql: f.jql,
      viewUrl: `${origin}/issues/?filter=${f.id}`,
      searchUrl: `${origin}/rest/api/2/search?jql=${encodeURIComponent(f.jql)}`,
      favourite: f.favourite,
      sharePermissions: [],
      editable: true,
    };
  };

  /** The issue named by key (any case) or id; 404 as Jira words it. */
  const findIssue = (idOrKey) => {
    const wanted = String(idOrKey).toUpperCase();
    const issue = data.issues.get(wanted) ?? [...data.issues.values()].find((i) => i.id === wanted);
    if (issue === undefined) throw new DemoError(404, 'issue_not_found', 'Issue Does Not Exist');
    return issue;
  };
  const object = (body, what) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new DemoError(400, 'invalid_body', `The request body must be a JSON object (${what}).`);
    return body;
  };
  const count = (value, name, fallback, max) => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new DemoError(400, 'invalid_parameter', `${name} must be a non-negative integer.`);
    return Math.min(n, max);
  };

  router.get('/myself', (req, res) => {
    res.json({ ...userBody(req, res.locals.user), groups: { size: 1, items: [{ name: isAdmin(res.locals.user) ? 'jira-administrators' : 'jira-software-users' }] } });
  });

  router.get('/issue/:key', (req, res) => {
    res.json(issueBody(req, findIssue(req.params.key)));
  });

  router.put('/issue/:key', (req, res) => {
    const issue = findIssue(req.params.key);
    const fields = object(object(req.body, '{ "fields": { "summary": "…" } }').fields ?? {}, 'fields');
    const errors = {};
    for (const [name, value] of Object.entries(fields)) {
      if (name === 'summary' && (typeof value !== 'string' || value.trim() === '' || value.length > 255)) errors.summary = 'The summary must be 1 to 255 characters.';
      else if (name === 'description' && value !== null && typeof value !== 'string') errors.description = 'The description must be text or null.';
      else if (name === 'labels' && (!Array.isArray(value) || value.some((l) => typeof l !== 'string' || /\s/.test(l) || l === ''))) errors.labels = 'Labels are a list of words without spaces.';
      else if (!['summary', 'description', 'labels'].includes(name)) errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
    }
    if (Object.keys(errors).length > 0) throw new DemoError(400, 'invalid_fields', 'Some fields cannot be set.', errors);
    Object.assign(issue.fields, fields, { updated: new Date(clock()).toISOString() });
    res.status(204).end();
  });

  router.delete('/issue/:key', (req, res) => {
    const issue = findIssue(req.params.key);
    if (!isAdmin(res.locals.user)) throw new DemoError(403, 'forbidden', 'You do not have permission to delete issues in this project (in the demo, only admin may).');
    data.issues.delete(issue.key);
    res.status(204).end();
  });

  router.post('/issue/:key/comment', (req, res) => {
    const issue = findIssue(req.params.key);
    // A JSON body, or a form (the demo's page at / posts one with its atl_token).
    const body = object(req.body, '{ "body": "…" }');
    if (typeof body.body !== 'string' || body.body.trim() === '' || body.body.length > 32_768) throw new DemoError(400, 'invalid_comment', 'Comment body can not be empty!', { comment: 'Comment body can not be empty!' });
    const comment = { id: String(data.nextId++), author: res.locals.user, body: body.body, created: new Date(clock()).toISOString() };
    if (typeof body.visibility === 'object' && body.visibility !== null) comment.visibility = { type: String(body.visibility.type), value: String(body.visibility.value) };
    issue.comments.push(comment);
    const answer = commentBody(req, issue, comment);
    res.status(201).location(answer.self).json(answer);
  });

  router.get('/issue/:key/worklog', (req, res) => {
    const issue = findIssue(req.params.key);
    res.json({ startAt: 0, maxResults: issue.worklogs.length, total: issue.worklogs.length, worklogs: issue.worklogs.map((w) => worklogBody(req, issue, w)) });
  });

  const search = (req, res, { jql, startAt, maxResults }) => {
    let query;
    try {
      query = compileJql(typeof jql === 'string' ? jql : '');
    } catch (err) {
      if (err instanceof JqlError) throw new DemoError(400, 'invalid_jql', err.message);
      throw err;
    }
    const from = count(startAt, 'startAt', 0, Number.MAX_SAFE_INTEGER);
    const max = count(maxResults, 'maxResults', 50, 1000);
    const rows = [...data.issues.values()].map((issue) => ({ issue, id: Number(issue.id), key: issue.key, project: 'DEMO', status: issue.fields.status.name, created: issue.fields.created }));
    const found = rows.filter(query.matches).sort(query.compare);
    res.json({ expand: 'schema,names', startAt: from, maxResults: max, total: found.length, issues: found.slice(from, from + max).map((row) => issueBody(req, row.issue)) });
  };
  router.get('/search', (req, res) => search(req, res, req.query));
  router.post('/search', (req, res) => search(req, res, object(req.body, '{ "jql": "project = DEMO" }')));

  router.post('/filter', (req, res) => {
    const body = object(req.body, '{ "name": "…", "jql": "…" }');
    if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 255) throw new DemoError(400, 'invalid_filter', 'The filter needs a name.', { filterName: 'You must specify a name to save this filter as.' });
    const jql = typeof body.jql === 'string' ? body.jql : '';
    try {
      compileJql(jql);
    } catch (err) {
      if (err instanceof JqlError) throw new DemoError(400, 'invalid_jql', err.message, { jql: err.message });
      throw err;
    }
    const owner = res.locals.user;
    if ([...data.filters.values()].some((f) => f.owner === owner && f.name === body.name)) throw new DemoError(400, 'duplicate_filter', 'Filter with same name already exists.', { filterName: 'Filter with same name already exists.' });
    const filter = { id: String(data.nextId++), name: body.name, description: typeof body.description === 'string' ? body.description : '', jql, owner, favourite: body.favourite === true };
    data.filters.set(filter.id, filter);
    res.status(200).json(filterBody(req, filter));
  });

  router.get('/filter/:id', (req, res) => {
    const filter = data.filters.get(req.params.id);
    // Someone else's filter looks like a missing one: its existence is not revealed.
    if (filter === undefined || (filter.owner !== res.locals.user && !isAdmin(res.locals.user))) throw new DemoError(404, 'filter_not_found', 'The selected filter is not available to you, perhaps it has been deleted or had its permissions changed.');
    res.json(filterBody(req, filter));
  });

  return router;
}
