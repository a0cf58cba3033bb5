import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { LatencyWindow } from '../core/latency-window.js';
import type { CacheStats } from './cache-stats.js';

/**
 * The cache's series on the database's registry. Everything is read from the cache's plain
 * counters and latency window when scraped, so the read path only bumps numbers.
 */
export class CacheMetrics {
  readonly loadLatency = new LatencyWindow(4096);
  readonly #loadSeconds: LoadHistogram;

  constructor(registry: Registry, read: () => CacheStats) {
    const byTier = (name: string, help: string, pick: (s: CacheStats) => Record<'l1' | 'l2' | 'query', number>) =>
      new Counter({
        name,
        help,
        labelNames: ['tier'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [tier, n] of Object.entries(pick(read()))) this.inc({ tier }, n);
        },
      });
    byTier('sluice_cache_hits_total', 'Cache hits by tier (l1, l2, query).', (s) => ({
      l1: s.l1.hits,
      l2: s.l2.hits,
      query: s.queries.hits,
    }));
    byTier('sluice_cache_misses_total', 'Cache misses by tier (l1, l2, query).', (s) => ({
      l1: s.l1.misses,
      l2: s.l2.misses,
      query: s.queries.misses,
    }));
    const counter = (name: string, help: string, pick: (s: CacheStats) => number) =>
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(pick(read()));
        },
      });
    counter(
      'sluice_cache_redis_fallbacks_total',
      'Reads served from the database because Redis failed or timed out.',
      (s) => s.l2.fallbacks,
    );
    counter('sluice_cache_redis_skipped_total', 'Reads that skipped Redis while it was down or untrusted.', (s) => s.l2.skipped);
    counter('sluice_cache_stale_drops_total', 'Loaded values not cached because a commit overtook the load.', (s) => s.staleDrops);
    counter(
      'sluice_cache_foreign_flushes_total',
      'Cache drops after another connection committed (data_version).',
      (s) => s.foreignFlushes,
    );
    counter('sluice_cache_invalidations_total', 'Keys invalidated by commits.', (s) => s.invalidations);
    new Gauge({
      name: 'sluice_cache_entries',
      help: 'Rows held in the in-process cache.',
      registers: [registry],
      collect() {
        this.set(read().l1.entries);
      },
    });
    new Gauge({
      name: 'sluice_cache_bytes',
      help: 'Estimated bytes held in the in-process cache.',
      registers: [registry],
      collect() {
        this.set(read().l1.bytes);
      },
    });
    this.#loadSeconds = new LoadHistogram(
      'sluice_cache_load_seconds',
      'Time to load a missed row or query result from the database.',
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    );
    registry.registerMetric(this.#loadSeconds as unknown as Metric);
  }

  recordLoad(ms: number): void {
    this.loadLatency.record(ms);
    this.#loadSeconds.observe(ms / 1000);
  }
}

/**
 * A label-less histogram that counts into a typed array: every cache miss records a load, and
 * prom-client's Histogram.observe (label objects, a closure, a hash per call) cost a miss more
 * than 0.1 µs. It gives the registry what a prom-client Histogram's get() gives (cumulative
 * `_bucket` values by `le`, then `+Inf`, `_sum` and `_count`), which is all the registry, its
 * text and JSON output and the cluster aggregator read from a metric.
 */
class LoadHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[] = [];
  readonly #bounds: Float64Array;
  /** Observations per bucket (not cumulative); one past the last bound is +Inf only. */
  #counts: Float64Array;
  #sum = 0;
  #count = 0;
  /** Like prom-client's, a reset histogram shows no series until its next observation. */
  #shown = true;

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = Float64Array.from(bounds);
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    (this.#counts[i] as number)++;
    this.#sum += seconds;
    this.#count++;
    this.#shown = true;
  }

  async get() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string; exemplar?: null }[] = [];
    if (!this.#shown) return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    let cumulative = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      cumulative += this.#counts[i] as number;
      values.push({ labels: { le: this.#bounds[i] as number }, value: cumulative, metricName: bucket, exemplar: null });
    }
    values.push(
      { labels: { le: '+Inf' }, value: this.#count, metricName: bucket, exemplar: null },
      { labels: {}, value: this.#sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.#count, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#counts = new Float64Array(this.#bounds.length + 1);
    this.#sum = 0;
    this.#count = 0;
    this.#shown = false;
  }
}
