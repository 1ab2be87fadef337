// The routes of the management API as data: the router registers a handler for each, and the OpenAPI
// document describes each, so a route cannot exist without its description.
import { BY_USER, CHECK_BODY, CREATE_BODY, DECISION, ERROR, ISSUED, TOKEN, UPDATE_BODY, VALIDATE_BODY, VALIDATION } from './schemas.js';

/** One route: where it is, what it takes and what it answers. */
export interface RouteSpec {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** An Express path (`/:id`). */
  readonly path: string;
  readonly summary: string;
  readonly body?: object;
  /** The success status and its schema (none for 204). */
  readonly status: 200 | 201 | 204;
  readonly response?: object;
  /** Admin only. */
  readonly admin?: boolean;
  /** The error statuses it may answer with, besides 401 (not logged in), 403 (token auth) and 503. */
  readonly errors: readonly number[];
}

/** Every route, in the order the router tries them (fixed paths before `/:id`). */
export const ROUTES: readonly RouteSpec[] = [
  { operationId: 'listTokens', method: 'get', path: '/', summary: "The current user's live tokens.", status: 200, response: { type: 'array', items: TOKEN }, errors: [] },
  { operationId: 'createToken', method: 'post', path: '/', summary: 'Creates a token; the answer holds the secret, once, and snippets that use it.', body: CREATE_BODY, status: 201, response: ISSUED, errors: [400, 403, 409, 422] },
  { operationId: 'validateRestrictions', method: 'post', path: '/validate', summary: 'Parses and lints restriction text, for editors.', body: VALIDATE_BODY, status: 200, response: VALIDATION, errors: [400, 429] },
  { operationId: 'checkRequest', method: 'post', path: '/check', summary: 'Evaluates a request against restriction text: the decision and its explanation.', body: CHECK_BODY, status: 200, response: DECISION, errors: [400, 422, 429] },
  { operationId: 'revokeAllTokens', method: 'delete', path: '/all', summary: "Revokes all of the current user's tokens.", status: 204, errors: [] },
  { operationId: 'revokeExpiredTokens', method: 'delete', path: '/expired', summary: "Removes the current user's expired tokens from their list.", status: 204, errors: [] },
  { operationId: 'listAllTokens', method: 'get', path: '/admin/all', summary: "Admin: every user's live tokens, grouped by user.", status: 200, response: BY_USER, admin: true, errors: [403] },
  { operationId: 'revokeUserTokens', method: 'delete', path: '/admin/users/:username', summary: 'Admin: revokes every token of a user.', status: 204, admin: true, errors: [403] },
  { operationId: 'getToken', method: 'get', path: '/:id', summary: 'One token, with its expiry details.', status: 200, response: TOKEN, errors: [404] },
  { operationId: 'updateToken', method: 'patch', path: '/:id', summary: 'Edits label, expiry or restrictions (409 in secure mode).', body: UPDATE_BODY, status: 200, response: TOKEN, errors: [400, 404, 409, 422] },
  { operationId: 'rotateToken', method: 'post', path: '/:id/rotate', summary: 'A new secret; the old one stops working at once.', status: 201, response: ISSUED, errors: [404, 422] },
  { operationId: 'revokeToken', method: 'delete', path: '/:id', summary: 'Revokes a token.', status: 204, errors: [404] },
];

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'The body is not what the route takes.',
  401: 'Not logged in.',
  403: 'Called with an API token, or an admin route called by a non-admin (or owner set by one).',
  404: 'No such token (or not one of yours).',
  409: 'Over the token quota, or an edit in secure mode.',
  422: 'The restrictions do not parse, or the expiry breaks the lifetime policy.',
  429: 'Too many rule checks.',
  503: 'The token store is unavailable.',
};

/** The OpenAPI 3.1 document of a router mounted at `mountPath`. */
export function openApiDocument(mountPath: string, version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of ROUTES) {
    const path = `${mountPath}${route.path === '/' ? '' : route.path}`.replace(/:(\w+)/g, '{$1}') || '/';
    const parameters = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const responses: Record<string, object> = {
      [route.status]: route.response === undefined ? { description: 'Done.' } : { description: 'Done.', content: { 'application/json': { schema: route.response } } },
    };
    for (const status of [...route.errors, 401, 403, 503]) responses[status] = { description: STATUS_TEXT[status], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    (paths[path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(parameters.length > 0 && { parameters }),
      ...(route.body !== undefined && { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'tokenfence token management API',
      version,
      description:
        'Manage API tokens: list, create (the secret is shown once), edit, rotate, revoke; validate and try restriction rules. Call it with the session cookie (and the XSRF rules), never with an API token.',
    },
    paths,
    components: { schemas: { Error: ERROR }, securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'JSESSIONID' } } },
    security: [{ session: [] }],
  };
}
