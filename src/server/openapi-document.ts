import type { RouteOptions } from 'fastify';
import { ERROR_SCHEMA, type HeaderSpec } from './route-schemas.js';
import type { JsonSchema, TableSchemas } from './table-schemas.js';

interface RouteSchema {
  tags?: string[];
  summary?: string;
  hide?: boolean;
  params?: JsonSchema;
  querystring?: JsonSchema;
  headers?: JsonSchema;
  body?: JsonSchema;
  response?: Record<string, JsonSchema>;
  responseHeaders?: Record<string, Record<string, HeaderSpec>>;
}

/** Which tokens the server was given: an operation declares `security` only when it needs one. */
export interface DocumentedAuth {
  readonly writes: boolean;
  readonly reads: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '/metrics': 'text/plain; version=0.0.4',
  '/api/v1/events': 'text/event-stream',
};

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

/** The answers any request can get before a route sees it, in the one error shape. */
const COMMON_RESPONSES = {
  BadRequest: {
    description: 'Invalid request: a failed check, a malformed %-escape in the URL, a body that is not UTF-8 JSON (VALIDATION)',
    content: errorContent,
  },
  UriTooLong: { description: 'A path segment or the request line is too long (VALIDATION)', content: errorContent },
  HeadersTooLarge: { description: 'The request headers are too large (VALIDATION)', content: errorContent },
  BodyTooLarge: { description: 'The body is larger than bodyLimitBytes (VALIDATION)', content: errorContent },
} as const;

/**
 * Builds the OpenAPI 3.1 document from the schemas the routes validate with, collected as each
 * route is added, so the document cannot drift from what the server checks. A table's row,
 * insert and patch schemas are components, and every use of one is a `$ref` to it, so a client
 * generator names them (and reads a body of one row or an array as a `oneOf` of references).
 */
export class OpenApiDocument {
  readonly #paths: Record<string, Record<string, unknown>> = {};
  readonly #tables: Record<string, JsonSchema> = {};
  readonly #refs = new Map<object, string>();
  readonly #version: string;
  readonly #auth: DocumentedAuth;
  #cached: string | undefined;

  constructor(version: string, auth: DocumentedAuth) {
    this.#version = version;
    this.#auth = auth;
  }

  addTable(name: string, schemas: TableSchemas): void {
    for (const [component, schema] of [
      [name, schemas.row],
      [`${name}.insert`, schemas.insert],
      [`${name}.patch`, schemas.patch],
    ] as const) {
      this.#tables[component] = schema;
      this.#refs.set(schema, `#/components/schemas/${component}`);
    }
  }

  addRoute(route: RouteOptions): void {
    const schema = (route.schema ?? {}) as RouteSchema;
    if (schema.hide) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const access = (route.config ?? {}) as { write?: boolean; read?: boolean };
    const secured = (access.write === true && this.#auth.writes) || (access.read === true && this.#auth.reads);
    for (const method of methods) {
      const operation: Record<string, unknown> = {
        operationId: `${method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
        summary: schema.summary ?? `${method} ${path}`,
        ...(schema.tags ? { tags: schema.tags } : {}),
        parameters: [
          ...parameters(schema.params, 'path'),
          ...parameters(schema.querystring, 'query'),
          ...parameters(schema.headers, 'header'),
        ],
        responses: {
          ...responses(schema.response, schema.responseHeaders, CONTENT_TYPES[path]),
          '400': { $ref: '#/components/responses/BadRequest' },
          ...(path.includes('{') ? { '414': { $ref: '#/components/responses/UriTooLong' } } : {}),
          '431': { $ref: '#/components/responses/HeadersTooLarge' },
          ...(schema.body ? { '413': { $ref: '#/components/responses/BodyTooLarge' } } : {}),
        },
        ...(secured ? { security: [{ bearer: [] }] } : {}),
      };
      if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
      this.#paths[path] ??= {};
      this.#paths[path][method.toLowerCase()] = operation;
    }
    this.#cached = undefined;
  }

  toJSON(): string {
    const secured = this.#auth.writes || this.#auth.reads;
    this.#cached ??= JSON.stringify({
      openapi: '3.1.0',
      info: {
        title: 'Sluice HTTP API',
        version: this.#version,
        description: `Records, lifecycles, tasks and operations of one Sluice database. Errors are { error: { code, message } }.${
          secured ? ` ${this.#auth.reads ? 'Every route but health' : 'Writes'} need Authorization: Bearer <token>.` : ''
        }`,
      },
      paths: this.#withRefs(this.#paths, true),
      components: {
        schemas: { Error: ERROR_SCHEMA, ...this.#tables },
        responses: COMMON_RESPONSES,
        ...(secured ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}),
      },
    });
    return this.#cached;
  }

  /** A copy in which each table schema (found by identity: the routes use the very objects) is a `$ref`. */
  #withRefs(value: unknown, top = false): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const ref = top ? undefined : this.#refs.get(value);
    if (ref !== undefined) return { $ref: ref };
    if (Array.isArray(value)) return value.map((v) => this.#withRefs(v));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = this.#withRefs(v);
    return out;
  }
}

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query' | 'header'): Record<string, unknown>[] {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function responses(
  response: Record<string, JsonSchema> | undefined,
  headers: Record<string, Record<string, HeaderSpec>> | undefined,
  contentType = 'application/json',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!response || !Object.keys(response).some((status) => /^2/.test(status))) {
    out['200'] = {
      description: 'OK',
      content: { [contentType]: { schema: contentType === 'application/json' ? {} : { type: 'string' } } },
    };
  }
  for (const [status, schema] of Object.entries(response ?? {})) {
    const ok = /^2/.test(status);
    const { description, ...rest } = schema;
    out[status.toUpperCase()] = {
      description: typeof description === 'string' ? description : ok ? 'OK' : 'An error',
      // Errors all have the one shape; a schema without its own description is used as is, so a table's keeps its identity.
      content: ok
        ? { [contentType]: { schema: description === undefined ? schema : rest } }
        : { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      ...(headers?.[status] ? { headers: headers[status] } : {}),
    };
  }
  return out;
}
