/**
 * Metrics through `@opentelemetry/api`, an optional peer: without it (or without an SDK registered) nothing is
 * recorded and nothing is loaded. The metrics subscribe to the diagnostics channels, so the engine only publishes
 * and knows nothing of OpenTelemetry.
 *
 * Instruments (meter `nestjs-wecom-token`):
 * - counter `wecom.credential.fetches` {`wecom.kind`, `wecom.app`, `wecom.outcome`, and `wecom.errcode` on a failed
 *   fetch that WeCom answered}: every credential request to WeCom;
 * - histogram `wecom.credential.fetch.duration` (s) {`wecom.kind`, `wecom.app`, `wecom.outcome`}: how long each took;
 * - counter `wecom.credential.rejections` {`wecom.kind`, `wecom.app`, `wecom.errcode`}: credentials WeCom rejected;
 * - counter `wecom.credential.refresh.failures` {`wecom.kind`, `wecom.app`}: refreshes that failed while a valid
 *   credential stayed in service.
 */
import diagnostics from 'node:diagnostics_channel';
import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  FETCH_CHANNEL,
  REFRESH_FAILED_CHANNEL,
  REJECTED_CHANNEL,
  type CredentialFetchEvent,
  type CredentialRefreshFailedEvent,
  type CredentialRejectedEvent,
} from './diagnostics.js';
import { loadIfInstalled as loadOptionalPeer } from '../common/optional-peer-if-installed.js';

/** Name of the meter the module records on. */
export const METER_NAME = 'nestjs-wecom-token';

/** Instrument names, fixed by the public contract. */
export const METRIC_FETCHES = 'wecom.credential.fetches';
export const METRIC_FETCH_DURATION = 'wecom.credential.fetch.duration';
export const METRIC_REJECTIONS = 'wecom.credential.rejections';
export const METRIC_REFRESH_FAILURES = 'wecom.credential.refresh.failures';

/** Bucket boundaries (s) for the fetch duration: gettoken answers in tens of ms, a timeout is ~10 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Attributes of one measurement. */
type Attributes = Record<string, string | number>;

/** The part of an OpenTelemetry `Counter` that is used; declared here so the declarations need no optional peer. */
interface CounterLike {
  add(value: number, attributes?: Attributes): void;
}

/** The part of an OpenTelemetry `Histogram` that is used. */
interface HistogramLike {
  record(value: number, attributes?: Attributes): void;
}

/** Options of an instrument, as `@opentelemetry/api` takes them. */
interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** The part of an OpenTelemetry `Meter` that is used. */
export interface WeComMeter {
  createCounter(name: string, options?: InstrumentOptions): CounterLike;
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike;
}

/**
 * The part of an OpenTelemetry `MeterProvider` that is used: `MeterProvider` of `@opentelemetry/sdk-metrics` and
 * `metrics.getMeterProvider()` of `@opentelemetry/api` fit it.
 */
export interface WeComMeterProvider {
  getMeter(name: string, version?: string): WeComMeter;
}

/** Options of {@link startMetrics}. */
export interface StartMetricsOptions {
  /**
   * Record on this provider instead of the global one (`metrics.getMeterProvider()` at the moment of the call).
   * Useful when an application keeps its SDK out of the global registry.
   */
  meterProvider?: WeComMeterProvider;
}

interface Subscription {
  refs: number;
  stop: () => void;
}

/**
 * One subscription per meter provider, shared by every module and application of the process that records on it.
 * The channels are process-wide, so one subscription per provider is what keeps each event counted once.
 */
const subscriptions = new Map<WeComMeterProvider, Subscription>();

/**
 * Start recording the module's metrics; returns the function that stops this start (idempotent). Takes the meter
 * now, so call it when the application starts (the module does, in `onApplicationBootstrap`), after an
 * OpenTelemetry SDK was registered. Starts are counted: the first subscribes to the channels, the last stop
 * unsubscribes. Without `@opentelemetry/api` installed it does nothing.
 */
export function startMetrics(options: StartMetricsOptions = {}): () => void {
  const provider = options.meterProvider ?? globalMeterProvider();
  if (!provider) return () => undefined;
  let subscription = subscriptions.get(provider);
  if (!subscription) {
    subscription = { refs: 0, stop: subscribe(provider.getMeter(METER_NAME)) };
    subscriptions.set(provider, subscription);
  }
  subscription.refs += 1;
  const taken = subscription;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    taken.refs -= 1;
    if (taken.refs === 0 && subscriptions.get(provider) === taken) {
      subscriptions.delete(provider);
      taken.stop();
    }
  };
}

/** How many meter providers the module currently records on (for tests and diagnostics). */
export function activeMetricSubscriptions(): number {
  return subscriptions.size;
}

/**
 * The global meter provider, or undefined without `@opentelemetry/api` or without an SDK registered: the API's
 * no-op provider records nothing, so subscribing to the channels for it would only cost every fetch a call.
 */
function globalMeterProvider(): WeComMeterProvider | undefined {
  const api = loadOptionalPeer<{ metrics: { getMeterProvider(): WeComMeterProvider }; createNoopMeter(): WeComMeter }>('@opentelemetry/api');
  if (!api) return undefined;
  const provider = api.metrics.getMeterProvider();
  return provider.getMeter(METER_NAME) === api.createNoopMeter() ? undefined : provider;
}

/** Subscribe the instruments of `meter` to the channels; returns the unsubscription. */
function subscribe(meter: WeComMeter): () => void {
  const fetches = meter.createCounter(METRIC_FETCHES, {
    description: 'Credential requests to WeCom (gettoken, tickets, suite/provider/corp tokens), each attempt',
    unit: '{request}',
  });
  const duration = meter.createHistogram(METRIC_FETCH_DURATION, {
    description: 'Duration of one credential request to WeCom',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const rejections = meter.createCounter(METRIC_REJECTIONS, {
    description: 'Credentials that WeCom rejected when they were used (40014, 42001, 40082, …)',
    unit: '{rejection}',
  });
  const refreshFailures = meter.createCounter(METRIC_REFRESH_FAILURES, {
    description: 'Refreshes that failed while a valid credential stayed in service',
    unit: '{failure}',
  });

  const onFetch = guarded((event: CredentialFetchEvent) => {
    // Two objects: an SDK may keep the attributes it was given, so one must not be changed after recording.
    const attributes: Attributes = { 'wecom.kind': event.kind, 'wecom.app': event.app, 'wecom.outcome': event.outcome };
    duration.record(Math.max(0, event.durationMs) / 1000, attributes);
    const withErrcode = event.outcome === 'error' && typeof event.errcode === 'number' ? { ...attributes, 'wecom.errcode': event.errcode } : attributes;
    fetches.add(1, withErrcode);
  });
  const onRejected = guarded((event: CredentialRejectedEvent) => {
    rejections.add(1, { 'wecom.kind': event.kind, 'wecom.app': event.app, 'wecom.errcode': event.errcode });
  });
  const onRefreshFailed = guarded((event: CredentialRefreshFailedEvent) => {
    refreshFailures.add(1, { 'wecom.kind': event.kind, 'wecom.app': event.app });
  });

  diagnostics.subscribe(FETCH_CHANNEL, onFetch);
  diagnostics.subscribe(REJECTED_CHANNEL, onRejected);
  diagnostics.subscribe(REFRESH_FAILED_CHANNEL, onRefreshFailed);
  return () => {
    diagnostics.unsubscribe(FETCH_CHANNEL, onFetch);
    diagnostics.unsubscribe(REJECTED_CHANNEL, onRejected);
    diagnostics.unsubscribe(REFRESH_FAILED_CHANNEL, onRefreshFailed);
  };
}

/**
 * A channel subscriber that cannot throw: diagnostics_channel rethrows a subscriber's error on the next tick, as an
 * uncaught exception, which would take the application down for a metric.
 */
function guarded<E>(record: (event: E) => void): (message: unknown) => void {
  return (message) => {
    try {
      record(message as E);
    } catch {
      // A broken exporter or SDK must not break token fetching; the SDK reports its own errors.
    }
  };
}

/**
 * Starts the metrics when the application starts and stops them when it shuts down. Listed among the providers of
 * each app's module; the starts are counted, so several apps and modules record every event once.
 */
@Injectable()
export class WeComMetricsRecorder implements OnApplicationBootstrap, OnApplicationShutdown {
  private stop?: () => void;

  /** @internal Takes the meter now: an SDK registered before `NestFactory.create…` is used. */
  onApplicationBootstrap(): void {
    this.stop ??= startMetrics();
  }

  /** @internal */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = undefined;
  }
}
