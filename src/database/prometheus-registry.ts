import type { Registry } from 'prom-client';
import { SluiceError } from '../core/sluice-error.js';

/**
 * The prom-client registry behind each database, for Sluice's own server: it registers its HTTP
 * series there, so one scrape holds both. Kept apart from the class, so the public Database type
 * names no prom-client type (users read metrics through MetricsReader); reached through
 * src/internal.ts.
 */
const registries = new WeakMap<object, Registry>();

export function rememberRegistry(db: object, registry: Registry): void {
  registries.set(db, registry);
}

export function prometheusRegistry(db: object): Registry {
  const registry = registries.get(db);
  if (registry === undefined) throw new SluiceError('VALIDATION', 'Not a Sluice database: pass the value open() resolved with.');
  return registry;
}
