import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import type { Database } from '../index.js';
import { SluiceError } from '../index.js';
import { type AnyTableDef, closestName, prometheusRegistry, rollupOf, tasksTable } from '../internal.js';
import { BearerAuth } from './bearer-auth.js';
import { answerClientError, frameworkError, MAX_PARAM_LENGTH } from './client-errors.js';
import { loadDashboardAssets } from './dashboard-assets.js';
import { EventFeed } from './event-feed.js';
import { describeError, HttpError, sendError } from './http-errors.js';
import { HttpMetrics } from './http-metrics.js';
import { OpenApiDocument } from './openapi-document.js';
import { RecentErrors } from './recent-errors.js';
import { arrayLongerThan } from './request-parsing.js';
import { registerOpsRoutes } from './routes/ops-routes.js';
import { registerPageRoutes } from './routes/page-routes.js';
import { registerRecordRoutes } from './routes/record-routes.js';
import { registerSyncNodesRoute } from './routes/sync-nodes-route.js';
import { registerSyncRoutes } from './routes/sync-routes.js';
import { registerTaskRoutes } from './routes/task-routes.js';
import { registerTaskWorkRoutes } from './routes/task-work-routes.js';
import type { RouteAccess, ServerContext } from './server-context.js';
import { type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from './server-options.js';
import { tableSchemas } from './table-schemas.js';

/** A fastify instance serving one database, plus a hook for the host to report its own errors. */
export type SluiceServer = FastifyInstance & {
  /** Shows an error among the dashboard's last errors (pass it the database's onError). */
  reportError(source: string, error: unknown): void;
};

/**
 * The HTTP API, Prometheus endpoint, OpenAPI document and dashboard of one database, as a
 * fastify instance that is not listening yet: call `listen()`, or mount it with `inject()` or a
 * reverse proxy. Every route calls the public library API. Closing the server leaves the
 * database open; the caller owns it.
 */
export function createServer(db: Database, input: ServerOptions = {}): SluiceServer {
  const options = resolveServerOptions(input);
  const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  const errors = new RecentErrors();
  const fail = errorAnswer(errors);
  const app = newFastify(options, fail);
  acceptStrictUtf8Json(app, options.maxRowsPerRequest);
  const sync = db.syncEnabled ? db.sync : undefined;
  const tables = new Map<string, { def: AnyTableDef; schemas: ReturnType<typeof tableSchemas> }>();
  for (const def of db.tables) tables.set(def.name, { def, schemas: tableSchemas(def) });
  const feed = new EventFeed(
    db,
    [...tables.values()].map((t) => t.def),
    errors,
    sync,
    options.eventIntervalMs,
  );
  const ctx: ServerContext = {
    db,
    options,
    auth: new BearerAuth(options.token, options.readToken),
    tables,
    errors,
    feed,
    sync,
    streams: new Set(),
  };
  const openapi = new OpenApiDocument(version, { writes: options.token !== undefined, reads: options.readToken !== undefined });
  for (const [name, { schemas }] of tables) openapi.addTable(name, schemas);
  const metrics = new HttpMetrics(prometheusRegistry(db));

  addRouteHooks(app, openapi, ctx.auth, metrics);
  app.setErrorHandler((error, request, reply) => fail(reply, error, request));
  // The not-found handler has no route of its own to carry an onResponse hook: it counts its answer as sent.
  const unmatched = metrics.hookFor('unmatched');
  app.setNotFoundHandler((request, reply) => {
    reply.raw.once('finish', () => unmatched(request, reply, noop));
    return sendError(reply, notFound(request.method, request.url, tables), request);
  });
  app.addHook('preClose', async () => {
    feed.stop();
    for (const end of [...ctx.streams]) end();
  });

  registerPageRoutes(app, loadDashboardAssets(), openapi);
  registerOpsRoutes(app, ctx);
  for (const { def, schemas } of tables.values()) registerRecordRoutes(app, ctx, def, schemas);
  registerTaskRoutes(app, ctx, tableSchemas(tasksTable));
  registerTaskWorkRoutes(app, ctx, tableSchemas(tasksTable));
  if (sync) registerSyncRoutes(app, sync);
  if (sync) registerSyncNodesRoute(app, sync);
  feed.start();

  return Object.assign(app, { reportError: (source: string, error: unknown) => errors.record(source, error) });
}

/** Limits from the options; errors fastify raises itself (bad JSON, a long param) answered like a route's. */
function newFastify(options: ResolvedServerOptions, fail: ReturnType<typeof errorAnswer>): FastifyInstance {
  return Fastify({
    logger: options.logger,
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // The first failure only: collecting all of them costs time and text in proportion to the
    // body, and a megabyte of wrong values must be refused as fast as one.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    clientErrorHandler: answerClientError,
    frameworkErrors: (error, request, reply) => fail(reply, frameworkError(error, request), request),
  });
}

/**
 * Auth and metrics hooks per route, made when the route is: each knows its route, so no request
 * reads request.routeOptions (a new object per read) or looks its series up. A route that needs
 * no token (or whose token is not configured) has no onRequest hook at all.
 */
function addRouteHooks(app: FastifyInstance, openapi: OpenApiDocument, auth: BearerAuth, metrics: HttpMetrics): void {
  app.addHook('onRoute', (route) => {
    openapi.addRoute(route);
    const access = route.config as RouteAccess | undefined;
    const check = access?.write
      ? auth.writesClosed && ((request: FastifyRequest) => auth.requireWrite(request))
      : access?.read && auth.readsClosed && ((request: FastifyRequest) => auth.requireRead(request));
    if (check) route.onRequest = [authHook(check), ...hookList(route.onRequest)];
    route.onResponse = [...hookList(route.onResponse), metrics.hookFor(route.url)];
  });
}

function noop(): void {}

/** A route's own hooks of one kind as a list (fastify takes one function or an array). */
function hookList<H>(hooks: H | H[] | undefined): H[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/** A callback hook, not an async one: every request to the route runs it, and a promise each is measurable. */
function authHook(check: (request: FastifyRequest) => void): onRequestHookHandler {
  return (request, _reply, done) => {
    try {
      check(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

/** Answers a failed request, and lists it among the last errors unless it is a 401 or 404 (scanners and typos, not faults). */
function errorAnswer(errors: RecentErrors): (reply: FastifyReply, error: unknown, request: FastifyRequest) => FastifyReply {
  return (reply, error, request) => {
    const { status, body } = describeError(error);
    if (status !== 404 && status !== 401) {
      errors.push({ at: new Date().toISOString(), source: `${request.method} ${request.routeOptions.url ?? request.url}`, ...body.error });
    }
    return sendError(reply, error, request);
  };
}

/** A 404 that says what is missing: the table (with a hint), the lifecycle, or the route. */
function notFound(method: string, url: string, tables: ReadonlyMap<string, { def: AnyTableDef }>): HttpError {
  const path = url.split('?')[0] ?? url;
  const match = /^\/api\/v1\/tables\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (match) {
    const name = safeDecode(match[1]!);
    const entry = tables.get(name);
    if (!entry) {
      const hint = closestName(name, [...tables.keys()]);
      return new HttpError(
        404,
        'NOT_FOUND',
        `There is no table ${JSON.stringify(name)}${hint ? `; did you mean "${hint}"?` : ''} Tables: ${[...tables.keys()].join(', ')}.`,
      );
    }
    const rest = match[2] ?? '';
    const rollup = rollupOf(entry.def);
    if (rollup && method !== 'GET' && method !== 'HEAD') {
      return new HttpError(
        404,
        'NOT_FOUND',
        `${name} is a rollup of ${rollup.source.name}, kept by the database with every write to it: it is read-only here. Write ${rollup.source.name} instead.`,
      );
    }
    if (/\/history$/.test(rest) && entry.def.lifecycle) {
      const why = !entry.def.lifecycle.history
        ? 'keeps no history (lifecycle.history is off)'
        : `has a composite key, and history is read by a one-column key: read ${name}_history by row_key (a JSON array) instead`;
      return new HttpError(404, 'NOT_FOUND', `Table ${name} ${why}, so ${method} ${path} does not exist.`);
    }
    if (/(^|\/)(transition|history|claims)$/.test(rest) && !entry.def.lifecycle?.leases) {
      const what = entry.def.lifecycle ? 'no leases (claims need lifecycle.leases)' : 'no lifecycle';
      return new HttpError(404, 'NOT_FOUND', `Table ${name} has ${what}, so ${method} ${path} does not exist.`);
    }
  }
  return new HttpError(404, 'NOT_FOUND', `There is no route ${method} ${path}; see /openapi.json.`);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * JSON bodies decoded strictly: bytes that are not UTF-8 would become U+FFFD and be stored
 * altered, so they are refused as a lone surrogate is. An array (only an insert takes one) of
 * more than `maxRows` items is refused before it is parsed: counting stops at the limit, so a
 * megabyte of numbers costs microseconds. Parsing itself stays fastify's (with its
 * prototype-poisoning checks).
 */
function acceptStrictUtf8Json(app: FastifyInstance, maxRows: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = decoder.decode(body as Buffer);
    } catch {
      done(
        new SluiceError(
          'VALIDATION',
          'The request body is not valid UTF-8: send JSON encoded as UTF-8 (invalid bytes would be stored altered).',
        ),
        undefined,
      );
      return;
    }
    if (arrayLongerThan(text, maxRows)) {
      done(
        new SluiceError(
          'VALIDATION',
          `The body is an array of more than ${maxRows} rows, the most one request carries (maxRowsPerRequest): send them in several requests.`,
        ),
        undefined,
      );
      return;
    }
    parse(request, text, done);
  });
}
