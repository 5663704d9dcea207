/**
 * The sample's OpenTelemetry SDK: a MeterProvider with a reader that collects when asked (GET /metrics), instead of
 * exporting on a timer. Registered globally BEFORE `NestFactory.create`, because the module takes its meter when the
 * application starts; a provider registered later would never see the module's instruments.
 */
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';

/** Injection token of the sample's {@link OnDemandMetricReader}. */
export const SAMPLE_METRIC_READER = 'SampleMetricReader';

/** The prefix of every instrument of nestjs-wecom-token. */
const WECOM_METRIC_PREFIX = 'wecom.credential.';

/** One data point of the JSON dump: a counter's value, or a histogram's count, sum, min and max (seconds). */
export interface MetricPointJson {
  attributes: Record<string, unknown>;
  value: number | { count: number; sum?: number; min?: number; max?: number };
}

/** One instrument of the JSON dump. */
export interface MetricJson {
  name: string;
  description: string;
  unit: string;
  points: MetricPointJson[];
}

/** A reader that collects only when asked: a JSON endpoint needs no exporter and no timer keeping the process up. */
export class OnDemandMetricReader extends MetricReader {
  constructor() {
    // Cumulative: GET /metrics shows totals since the start, as a Prometheus scrape would.
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  /** The `wecom.credential.*` instruments collected now, as plain JSON. */
  async wecomMetrics(): Promise<MetricJson[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .filter((metric) => metric.descriptor.name.startsWith(WECOM_METRIC_PREFIX))
      .map(toJson);
  }
}

function toJson(metric: MetricData): MetricJson {
  let points: MetricPointJson[];
  switch (metric.dataPointType) {
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      points = metric.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: { count: p.value.count, sum: p.value.sum, min: p.value.min, max: p.value.max } }));
      break;
    default:
      points = metric.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: p.value }));
  }
  return { name: metric.descriptor.name, description: metric.descriptor.description, unit: metric.descriptor.unit, points };
}

/**
 * Create the SDK and register it as the global MeterProvider. Call before `NestFactory.create`. The returned
 * `shutdown` unregisters it, so a process that stops leaves nothing behind.
 */
export function registerSampleMetrics(): { reader: OnDemandMetricReader; shutdown: () => Promise<void> } {
  const reader = new OnDemandMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  return {
    reader,
    shutdown: async () => {
      metrics.disable();
      await provider.shutdown();
    },
  };
}
