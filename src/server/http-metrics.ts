import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
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

  /**
   * An onResponse hook counting and timing the answers of one route pattern. Label children are
   * looked up once per method and status: hashing label objects on every request shows in the
   * profile, and so did building a string key per request to find them.
   */
  hookFor(route: string): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
    const byMethod = new Map<string, MethodSeries>();
    return (request, reply, done) => {
      const method = request.method;
      let series = byMethod.get(method);
      if (series === undefined) {
        series = { timed: this.#seconds.labels(method, route), counted: new Map() };
        byMethod.set(method, series);
      }
      const status = reply.statusCode;
      let counted = series.counted.get(status);
      if (counted === undefined) {
        counted = this.#requests.labels(method, route, String(status));
        series.counted.set(status, counted);
      }
      counted.inc();
      series.timed.observe(reply.elapsedTime / 1000);
      done();
    };
  }
}

interface MethodSeries {
  readonly timed: { observe(value: number): void };
  readonly counted: Map<number, { inc(): void }>;
}
