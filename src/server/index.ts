// The HTTP face, published as `sluice/server` so the engine's entry never loads fastify.
export { createServer, type SluiceServer } from './create-server.js';
export type { HttpErrorCode } from './http-errors.js';
export type { ServerOptions } from './server-options.js';
