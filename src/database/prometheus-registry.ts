import type { Registry } from 'prom-client';
import { SluiceError } from '../core/sluice-error.js';

/**
 * The prom-client registry behind each database, for Sluice's own server: it registers its HTTP
 * series there, so one scrape holds both. Kept off the class's type, so the public Database type
 * names no prom-client type (users read metrics through MetricsReader); reached through
 * src/internal.ts. A registered symbol rather than a module's WeakMap: the CLI run from source
 * loads the server from the built package, two copies of this module that must agree.
 */
const REGISTRY = Symbol.for('sluice.prometheusRegistry');

export function rememberRegistry(db: object, registry: Registry): void {
  Object.defineProperty(db, REGISTRY, { value: registry, enumerable: false });
}

export function prometheusRegistry(db: object): Registry {
  const registry = (db as { [REGISTRY]?: Registry })[REGISTRY];
  if (registry === undefined) throw new SluiceError('VALIDATION', 'Not a Sluice database: pass the value open() resolved with.');
  return registry;
}
