// tokenRouter (SPEC §7): the token management API — list, create (the secret once, with snippets), edit,
// rotate, revoke; validate and try restriction rules; admin views — for the session's user, never for a
// call made with an API token. Its routes and their schemas are in routes.ts and schemas.ts, and the OpenAPI
// document at `<mount>/openapi.json` is built from them.
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { logErrorToConsole } from '../../internal/report.js';
import { RestrictionSyntaxError } from '../../rules/errors.js';
import { evaluateRestrictions } from '../../rules/evaluate.js';
import { lintRestrictions } from '../../rules/lint.js';
import { parseRestrictions } from '../../rules/parse.js';
import { TokenError } from '../../tokens/errors.js';
import type { TokenRecord } from '../../tokens/store.js';
import { answerRefusal } from '../errors.js';
import { emitEvent, requestEvent } from '../request-event.js';
import { callerOf } from '../session/index.js';
import { ManageError, type ManageErrorCode } from './errors.js';
import { checkRouterOptions, type TokenRouterOptions } from './options.js';
import { openApiDocument, ROUTES, type RouteSpec } from './routes.js';
import { snippetsFor } from './snippets.js';

export type { TokenRouterOptions } from './options.js';

/** The management router, with the OpenAPI document it serves. */
export interface TokenRouter extends Router {
  /** The OpenAPI 3.1 document, for a router mounted at `mountPath`. */
  openApi(mountPath: string): object;
}

const DAY = 86_400_000;
/** The refusals audited: they say something about the caller, not about a mistyped body. */
const AUDITED: ReadonlySet<number> = new Set([401, 403, 404, 429]);
const SOON = 5 * DAY;
const VERSION = '0.1.0';

/** A token as the API shows it. */
export function tokenJson(record: TokenRecord, now: number = Date.now()) {
  const expires = record.expiresAt?.getTime() ?? null;
  return {
    id: record.id,
    owner: record.owner,
    label: record.label,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt?.toISOString() ?? null,
    lastAccessed: record.lastAccessed?.toISOString() ?? null,
    lastAccessedIp: record.lastAccessedIp,
    usageCount: record.usageCount,
    restrictions: record.restrictions,
    expired: expires !== null && expires <= now,
    expiresSoon: expires !== null && expires > now && expires - now <= SOON,
    expiresInDays: expires === null ? null : Math.round(((expires - now) / DAY) * 100) / 100,
  };
}

/** Who calls, as the router's handlers see it. */
interface Actor {
  readonly user: string;
  readonly admin: () => Promise<boolean>;
}

const isLimitHit = (r: unknown): r is { msBeforeNext: number } => typeof r === 'object' && r !== null && !(r instanceof Error) && typeof (r as { msBeforeNext?: unknown }).msBeforeNext === 'number';

/**
 * Creates the management router. Mount it where the API lives (the demo: `/rest/api-tokens/latest`),
 * after the token guard, the session middleware and the XSRF check.
 *
 * @example
 * app.use('/rest/api-tokens/latest', tokenRouter({ tokens, isAdmin: (user) => user === 'admin' }));
 */
export function tokenRouter(options: TokenRouterOptions): TokenRouter {
  checkRouterOptions(options);
  const express = require('express') as typeof import('express');
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const tokens = options.tokens;
  const onError = options.onError ?? logErrorToConsole;
  const report = (error: unknown, context: string): void => {
    try {
      onError(error, context);
    } catch {
      // Nothing left to tell it to.
    }
  };
  const currentUser = options.currentUser ?? ((req: Request) => {
    const caller = callerOf(req);
    return caller?.via === 'session' ? caller.user : undefined;
  });
  const isAdmin = options.isAdmin ?? (() => false);
  const evaluateOptions = { basePath: options.basePath ?? '', caseInsensitive: options.caseInsensitiveRules === true };
  const parseLimit = options.parseLimit === false ? undefined : (options.parseLimit ?? { points: 120, duration: 60 });
  let parses: RateLimiterAbstract | undefined;
  if (parseLimit !== undefined) {
    const { RateLimiterMemory } = require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');
    parses = new RateLimiterMemory({ keyPrefix: 'tokenfence_parse', points: parseLimit.points, duration: parseLimit.duration });
  }
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  const validators = new Map(ROUTES.filter((r) => r.body !== undefined).map((r) => [r.operationId, ajv.compile(r.body!)]));
  const parseJson = express.json({ limit: '512kb', strict: true, type: () => true });
  const ACTORS = new WeakMap<object, Actor>();

  const answer = (req: Request, res: Response, next: NextFunction, error: ManageError): void => {
    if (AUDITED.has(error.status)) {
      const caller = callerOf(req);
      emitEvent(options.audit, () => requestEvent('manage.denied', req, { user: ACTORS.get(req)?.user ?? caller?.user ?? null, via: caller?.via, outcome: 'failure', reason: error.code, status: error.status }), report);
    }
    const handler = options.handler;
    answerRefusal(res, error, {}, handler && (() => handler(error, req, res, next)), report);
  };

  /** A service error as the API's: the token service's codes keep their status and message. */
  const asManageError = (err: unknown): ManageError => {
    if (err instanceof ManageError) return err;
    if (err instanceof TokenError) return new ManageError(err.code as ManageErrorCode, err.message);
    if (err instanceof RestrictionSyntaxError) return new ManageError('invalid_restrictions', 'The restrictions do not parse; each error names its line and column.', undefined, err.errors);
    report(err, 'a token management call failed; it was answered with 503');
    return new ManageError('unavailable');
  };

  /** Wraps an async handler: its refusals and failures become coded answers. */
  const handle =
    (work: (req: Request, res: Response, actor: Actor) => Promise<void>): RequestHandler =>
    (req, res, next) => {
      work(req, res, ACTORS.get(req)!).catch((err: unknown) => answer(req, res, next, asManageError(err)));
    };

  /** Counts one rule parse of the user; 429 past the limit. */
  const countParse = async (actor: Actor): Promise<void> => {
    if (parses === undefined) return;
    try {
      await parses.consume(actor.user);
    } catch (rejection) {
      if (isLimitHit(rejection)) throw new ManageError('too_many_requests', `Too many rule checks (the limit is ${parseLimit!.points} per ${parseLimit!.duration} s); retry in ${Math.ceil(rejection.msBeforeNext / 1000)} s.`);
      throw rejection;
    }
  };

  /** The body of a route, parsed as JSON and validated by its schema. */
  const bodyOf = (route: RouteSpec, req: Request, res: Response): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const validate = (body: unknown) => {
        const check = validators.get(route.operationId)!;
        if (check(body)) resolve(body as Record<string, unknown>);
        else {
          const detail = (check.errors ?? []).map((e) => `${e.instancePath || 'the body'} ${e.message ?? 'is invalid'}`).join('; ');
          reject(new ManageError('invalid_body', `The body does not fit ${route.method.toUpperCase()} ${route.path}: ${detail}.`));
        }
      };
      if ((req as { _body?: boolean })._body === true) {
        validate(req.body);
        return;
      }
      const type = req.headers['content-type'];
      if (type === undefined || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
        reject(new ManageError('invalid_body', 'Send the body as JSON (Content-Type: application/json).'));
        return;
      }
      parseJson(req, res, (err?: unknown) => (err === undefined ? validate(req.body) : reject(new ManageError('invalid_body', 'The body is not valid JSON.'))));
    });

  /** The caller's own live token `id`, or an admin's any token; 404 otherwise (never "exists but not yours"). */
  const ownToken = async (actor: Actor, id: string): Promise<TokenRecord> => {
    const record = typeof id === 'string' && /^[0-9A-Za-z]{12}$/.test(id) ? await tokens.get(id) : undefined;
    if (record === undefined || record.revokedAt !== null) throw new ManageError('not_found');
    if (record.owner !== actor.user && !(await actor.admin())) throw new ManageError('not_found');
    return record;
  };

  const expiryOf = (body: Record<string, unknown>): Date | null | undefined => {
    if (typeof body.expiresInDays === 'number') return new Date(Date.now() + body.expiresInDays * DAY);
    if (body.expiresAt === null) return null;
    if (typeof body.expiresAt === 'string') {
      const at = new Date(body.expiresAt);
      if (Number.isNaN(at.getTime())) throw new ManageError('invalid_body', 'expiresAt is not a date.');
      return at;
    }
    return undefined;
  };

  const exampleUrl = (req: Request): string => {
    const option = options.exampleUrl;
    if (typeof option === 'string') return option;
    if (typeof option === 'function') return option(req);
    return `${req.protocol}://${req.get('host') ?? 'localhost'}/rest/api/2/myself`;
  };

  const issued = (req: Request, result: { token: string; record: TokenRecord }) => ({
    token: result.token,
    record: tokenJson(result.record),
    snippets: snippetsFor(result.token, result.record.owner, exampleUrl(req)),
  });

  const routeOf = (operationId: string): RouteSpec => ROUTES.find((r) => r.operationId === operationId)!;

  const handlers: Record<string, (req: Request, res: Response, actor: Actor) => Promise<void>> = {
    listTokens: async (_req, res, actor) => {
      const now = Date.now();
      res.json((await tokens.list(actor.user)).filter((r) => r.revokedAt === null).map((r) => tokenJson(r, now)));
    },
    createToken: async (req, res, actor) => {
      const body = await bodyOf(routeOf('createToken'), req, res);
      let owner: string | null = actor.user;
      if (Object.hasOwn(body, 'owner')) {
        if (!(await actor.admin())) throw new ManageError('admin_only', 'Only an administrator may choose a token\'s owner (or make an any-user token with owner null).');
        owner = body.owner as string | null;
      }
      if (typeof body.restrictions === 'string' && body.restrictions !== '') await countParse(actor);
      const result = await tokens.issue({ owner, label: body.label as string, expiresAt: expiryOf(body), restrictions: body.restrictions as string | undefined }, { actor: actor.user });
      res.status(201).json(issued(req, result));
    },
    validateRestrictions: async (req, res, actor) => {
      const body = await bodyOf(routeOf('validateRestrictions'), req, res);
      await countParse(actor);
      const result = lintRestrictions(body.restrictions as string);
      res.json({ ok: result.ok, errors: result.errors, warnings: result.warnings });
    },
    checkRequest: async (req, res, actor) => {
      const body = await bodyOf(routeOf('checkRequest'), req, res);
      await countParse(actor);
      const set = parseRestrictions(body.restrictions as string);
      const request = body.request as { method: string; url: string; contentType?: string; body?: unknown };
      const decision = evaluateRestrictions(set, { method: request.method, url: request.url, contentType: request.contentType, body: request.body }, evaluateOptions);
      res.json({ allowed: decision.allowed, ...(decision.line !== undefined && { line: decision.line }), ...(decision.reason !== undefined && { reason: decision.reason }), explanation: decision.explanation });
    },
    revokeAllTokens: async (_req, res, actor) => {
      await tokens.revokeAll(actor.user, { actor: actor.user });
      res.status(204).end();
    },
    revokeExpiredTokens: async (_req, res, actor) => {
      const now = Date.now();
      for (const record of await tokens.list(actor.user)) {
        if (record.revokedAt === null && record.expiresAt !== null && record.expiresAt.getTime() <= now) await tokens.revoke(record.id, { actor: actor.user });
      }
      res.status(204).end();
    },
    listAllTokens: async (_req, res) => {
      const now = Date.now();
      const groups = new Map<string | null, ReturnType<typeof tokenJson>[]>();
      for (const record of await tokens.listAll()) {
        if (record.revokedAt !== null) continue;
        const list = groups.get(record.owner) ?? [];
        list.push(tokenJson(record, now));
        groups.set(record.owner, list);
      }
      const users = [...groups.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)));
      res.json(users.map((username) => ({ username, count: groups.get(username)!.length, tokens: groups.get(username) })));
    },
    revokeUserTokens: async (req, res, actor) => {
      await tokens.revokeAll(String(req.params.username), { actor: actor.user });
      res.status(204).end();
    },
    getToken: async (req, res, actor) => {
      res.json(tokenJson(await ownToken(actor, String(req.params.id))));
    },
    updateToken: async (req, res, actor) => {
      const record = await ownToken(actor, String(req.params.id));
      const body = await bodyOf(routeOf('updateToken'), req, res);
      if (typeof body.restrictions === 'string' && body.restrictions !== '') await countParse(actor);
      const changes = { label: body.label as string | undefined, expiresAt: expiryOf(body), restrictions: body.restrictions as string | undefined };
      res.json(tokenJson(await tokens.update(record.id, changes, { actor: actor.user })));
    },
    rotateToken: async (req, res, actor) => {
      const record = await ownToken(actor, String(req.params.id));
      res.status(201).json(issued(req, await tokens.rotate(record.id, { actor: actor.user })));
    },
    revokeToken: async (req, res, actor) => {
      const record = await ownToken(actor, String(req.params.id));
      await tokens.revoke(record.id, { actor: actor.user });
      res.status(204).end();
    },
  };

  const router = express.Router() as unknown as TokenRouter;
  const documents = new Map<string, object>();
  const openApi = (mountPath: string): object => {
    let doc = documents.get(mountPath);
    if (doc === undefined) {
      doc = openApiDocument(mountPath, VERSION);
      if (documents.size < 16) documents.set(mountPath, doc);
    }
    return doc;
  };
  // The document describes the API; it holds nothing of anyone's, so it needs no login.
  router.get('/openapi.json', (req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(openApi(req.baseUrl));
  });
  router.use((req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    if (Reflect.get(req, 'tokenfence') !== undefined && options.allowTokenAuthentication !== true) {
      answer(req, res, next, new ManageError('token_auth_refused'));
      return;
    }
    Promise.resolve()
      .then(() => currentUser(req))
      .then((user) => {
        if (typeof user !== 'string' || user === '') {
          answer(req, res, next, new ManageError('not_authenticated'));
          return;
        }
        let admin: Promise<boolean> | undefined;
        ACTORS.set(req, { user, admin: () => (admin ??= Promise.resolve(isAdmin(user, req)).then((a) => a === true)) });
        next();
      })
      .catch((err: unknown) => answer(req, res, next, asManageError(err)));
  });
  for (const route of ROUTES) {
    const work = handlers[route.operationId]!;
    const guarded = route.admin
      ? async (req: Request, res: Response, actor: Actor) => {
          if (!(await actor.admin())) throw new ManageError('admin_only');
          await work(req, res, actor);
        }
      : work;
    router[route.method](route.path, handle(guarded));
  }
  Object.defineProperty(router, 'openApi', { value: openApi, enumerable: true });
  return router;
}
