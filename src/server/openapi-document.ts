import type { RouteOptions } from 'fastify';
import { ERROR_SCHEMA } from './route-schemas.js';
import type { JsonSchema, TableSchemas } from './table-schemas.js';

interface RouteSchema {
  tags?: string[];
  summary?: string;
  hide?: boolean;
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  response?: Record<string, JsonSchema>;
}

const CONTENT_TYPES: Record<string, string> = {
  '/metrics': 'text/plain; version=0.0.4',
  '/api/v1/events': 'text/event-stream',
};

/**
 * Builds the OpenAPI 3.1 document from the schemas the routes validate with, collected as each
 * route is added, so the document cannot drift from what the server checks.
 */
export class OpenApiDocument {
  readonly #paths: Record<string, Record<string, unknown>> = {};
  readonly #tables: Record<string, JsonSchema> = {};
  readonly #version: string;
  #cached: string | undefined;

  constructor(version: string) {
    this.#version = version;
  }

  addTable(name: string, schemas: TableSchemas): void {
    this.#tables[name] = schemas.row;
    this.#tables[`${name}.insert`] = schemas.insert;
    this.#tables[`${name}.patch`] = schemas.patch;
  }

  addRoute(route: RouteOptions): void {
    const schema = (route.schema ?? {}) as RouteSchema;
    if (schema.hide) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const write = (route.config as { write?: boolean } | undefined)?.write === true;
    for (const method of methods) {
      const operation: Record<string, unknown> = {
        operationId: `${method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
        summary: schema.summary ?? `${method} ${path}`,
        ...(schema.tags ? { tags: schema.tags } : {}),
        parameters: [...parameters(schema.params, 'path'), ...parameters(schema.querystring, 'query')],
        responses: responses(schema.response, CONTENT_TYPES[path]),
        ...(write ? { security: [{ bearer: [] }] } : {}),
      };
      if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
      this.#paths[path] ??= {};
      this.#paths[path][method.toLowerCase()] = operation;
    }
    this.#cached = undefined;
  }

  toJSON(): string {
    this.#cached ??= JSON.stringify({
      openapi: '3.1.0',
      info: {
        title: 'Sluice HTTP API',
        version: this.#version,
        description:
          'Records, lifecycles, tasks and operations of one Sluice database. Errors are { error: { code, message } }; writes need Authorization: Bearer <token> when the server has one.',
      },
      paths: this.#paths,
      components: {
        schemas: { Error: ERROR_SCHEMA, ...this.#tables },
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    });
    return this.#cached;
  }
}

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
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

function responses(response: Record<string, JsonSchema> | undefined, contentType = 'application/json'): Record<string, unknown> {
  if (!response || !Object.keys(response).some((status) => /^2/.test(status))) {
    const ok = {
      '200': { description: 'OK', content: { [contentType]: { schema: contentType === 'application/json' ? {} : { type: 'string' } } } },
    };
    return { ...ok, ...errorsOf(response) };
  }
  const out: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(response)) {
    const { description, ...rest } = schema;
    out[status.toUpperCase()] = {
      description: typeof description === 'string' ? description : /^2/.test(status) ? 'OK' : 'An error',
      content: { [contentType]: { schema: rest } },
    };
  }
  return out;
}

function errorsOf(response: Record<string, JsonSchema> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const status of Object.keys(response ?? {})) {
    out[status.toUpperCase()] = { description: 'An error', content: { 'application/json': { schema: ERROR_SCHEMA } } };
  }
  return out;
}
