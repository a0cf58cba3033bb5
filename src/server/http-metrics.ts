import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Request counts and latency on the database's own registry, so one scrape of `/metrics` holds
 * both. A second server on the same database reuses the series instead of registering twice.
 */
export class HttpMetrics {
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #seconds: Histogram<'method' | 'route'>;

  constructor(registry: Registry) {
    this.#requests =
      (registry.getSingleMetric('sluice_http_requests_total') as Counter<'method' | 'route' | 'status'> | undefined) ??
      new Counter({
        name: 'sluice_http_requests_total',
        help: 'HTTP requests answered, by method, route pattern and status.',
        labelNames: ['method', 'route', 'status'],
        registers: [registry],
      });
    this.#seconds =
      (registry.getSingleMetric('sluice_http_request_duration_seconds') as Histogram<'method' | 'route'> | undefined) ??
      new Histogram({
        name: 'sluice_http_request_duration_seconds',
        help: 'Time from receiving a request to sending its response, by method and route pattern.',
        labelNames: ['method', 'route'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
        registers: [registry],
      });
  }

  // Label children looked up once per combination: hashing label objects on every request shows in the profile.
  readonly #counted = new Map<string, { inc(): void }>();
  readonly #timed = new Map<string, { observe(value: number): void }>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const timedKey = `${method} ${route}`;
    const countedKey = `${timedKey} ${status}`;
    let counted = this.#counted.get(countedKey);
    if (!counted) {
      counted = this.#requests.labels(method, route, String(status));
      this.#counted.set(countedKey, counted);
    }
    let timed = this.#timed.get(timedKey);
    if (!timed) {
      timed = this.#seconds.labels(method, route);
      this.#timed.set(timedKey, timed);
    }
    counted.inc();
    timed.observe(seconds);
  }
}
