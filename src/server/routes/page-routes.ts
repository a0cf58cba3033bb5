import type { FastifyInstance } from 'fastify';
import type { Asset } from '../dashboard-assets.js';
import type { OpenApiDocument } from '../openapi-document.js';

/** The dashboard, its assets, the API docs page and the OpenAPI document. */
export function registerPageRoutes(app: FastifyInstance, assets: ReadonlyMap<string, Asset>, openapi: OpenApiDocument): void {
  for (const [route, asset] of assets) {
    app.get(route, { schema: { hide: true } }, (request, reply) => {
      reply.header('cache-control', 'no-cache').header('etag', asset.etag).type(asset.type);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    });
  }
  // Browsers ask for it on every dashboard load; an empty answer keeps it out of the error counts.
  app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) => reply.code(204).send());
  app.get('/openapi.json', { schema: { tags: ['operations'], summary: 'This document' } }, (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(openapi.toJSON()),
  );
}
