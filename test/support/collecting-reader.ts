/**
 * An OpenTelemetry MetricReader that tests collect from when they want, instead of on a timer.
 */
import { AggregationTemporality, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';

/** Collects cumulative metrics on demand. */
export class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  /** The metric `name` of the scope `meterName`, if recorded. */
  async metric(name: string, meterName = 'nestjs-wecom-token'): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.collect();
    const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === meterName);
    return scope?.metrics.find((m) => m.descriptor.name === name);
  }
  /** The data points of the metric `name`, as attributes and value. */
  async points(name: string): Promise<Array<{ attributes: Record<string, unknown>; value: unknown }>> {
    const metric = await this.metric(name);
    return (metric?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));
  }
}
