/**
 * What `db.metrics` offers: reading the database's Prometheus series, in the exposition format
 * or one metric at a time. Sluice's own type, so the public surface does not carry prom-client's
 * (a prom-client `Registry` satisfies it, and is what stands behind it).
 */
export interface MetricsReader {
  /** Every series in the Prometheus text exposition format, what `/metrics` serves. */
  metrics(): Promise<string>;
  /** The Content-Type that text is served with. */
  readonly contentType: string;
  /** One metric in the exposition format ('' when there is none by that name). */
  getSingleMetricAsString(name: string): Promise<string>;
  /** One metric's samples (labels and value), or undefined when there is none by that name. */
  getSingleMetric(name: string): { get(): Promise<{ values: readonly MetricSample[] }> } | undefined;
}

export interface MetricSample {
  readonly value: number;
  readonly labels: Readonly<Partial<Record<string, string | number>>>;
  /** A histogram's or summary's sample names its series (`_bucket`, `_sum`, `_count`). */
  readonly metricName?: string;
}
