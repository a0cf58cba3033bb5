import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter whose value is read when scraped, from a total kept in plain numbers
 * elsewhere (the gate's counters, the cache's stats): the hot paths count with `++` and never
 * touch a prom-client object.
 */
export function scrapedCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
