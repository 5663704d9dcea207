import diagnostics from 'node:diagnostics_channel';
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { CollectingReader } from '../../test/support/collecting-reader';
import { FETCH_CHANNEL, publishFetch, publishRefreshFailed, publishRejected, REFRESH_FAILED_CHANNEL, REJECTED_CHANNEL } from './diagnostics.js';
import { activeMetricSubscriptions, startMetrics, type WeComMeterProvider } from './metrics.js';

function sdk(): { provider: MeterProvider; reader: CollectingReader } {
  const reader = new CollectingReader();
  return { provider: new MeterProvider({ readers: [reader] }), reader };
}

const hasAnySubscriber = () => [FETCH_CHANNEL, REJECTED_CHANNEL, REFRESH_FAILED_CHANNEL].some((name) => diagnostics.channel(name).hasSubscribers);

const fetchOk = { kind: 'access_token', corpId: 'ww0001', app: 'crm', outcome: 'ok', durationMs: 40, expiresAt: Date.now() + 7_200_000 } as const;

describe('metrics on the diagnostics channels', () => {
  const stops: Array<() => void> = [];
  const providers: MeterProvider[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    metrics.disable();
    for (const provider of providers.splice(0)) await provider.shutdown();
  });

  function registered(): CollectingReader {
    const { provider, reader } = sdk();
    providers.push(provider);
    metrics.setGlobalMeterProvider(provider);
    return reader;
  }

  it('counts fetches by kind, app and outcome (errcode on failures), and records their duration in seconds', async () => {
    const reader = registered();
    stops.push(startMetrics());
    publishFetch(fetchOk);
    publishFetch({ ...fetchOk, durationMs: 160 });
    publishFetch({ kind: 'access_token', corpId: 'ww0001', app: 'crm', outcome: 'error', durationMs: 30, errcode: 40001 });
    publishFetch({ kind: 'jsapi_ticket', corpId: 'ww0001', app: 'default', outcome: 'error', durationMs: 10_000 });

    const fetches = await reader.metric('wecom.credential.fetches');
    expect(fetches?.dataPointType).toBe(DataPointType.SUM);
    const points = fetches!.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
    expect(points).toEqual(
      expect.arrayContaining([
        { attributes: { 'wecom.kind': 'access_token', 'wecom.app': 'crm', 'wecom.outcome': 'ok' }, value: 2 },
        { attributes: { 'wecom.kind': 'access_token', 'wecom.app': 'crm', 'wecom.outcome': 'error', 'wecom.errcode': 40001 }, value: 1 },
        { attributes: { 'wecom.kind': 'jsapi_ticket', 'wecom.app': 'default', 'wecom.outcome': 'error' }, value: 1 },
      ]),
    );
    expect(points).toHaveLength(3);

    const duration = await reader.metric('wecom.credential.fetch.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const ok = duration!.dataPoints.find((p) => p.attributes['wecom.outcome'] === 'ok' && p.attributes['wecom.app'] === 'crm')!;
    const histogram = ok.value as { count: number; sum: number };
    expect(histogram.count).toBe(2);
    expect(histogram.sum).toBeCloseTo(0.2, 6);
    // The errcode stays off the histogram: its attributes are the contract's three.
    expect(duration!.dataPoints.every((p) => !('wecom.errcode' in p.attributes))).toBe(true);
  });

  it('counts rejections by kind, app and errcode, and refresh failures by kind and app', async () => {
    const reader = registered();
    stops.push(startMetrics());
    publishRejected({ kind: 'access_token', corpId: 'ww0001', app: 'crm', errcode: 40014 });
    publishRejected({ kind: 'access_token', corpId: 'ww0001', app: 'crm', errcode: 40014 });
    publishRejected({ kind: 'agent_ticket', corpId: 'ww0001', app: 'crm', errcode: 42001 });
    publishRefreshFailed({ kind: 'access_token', corpId: 'ww0001', app: 'crm', error: 'timeout', validForMs: 60_000 });

    const rejections = await reader.metric('wecom.credential.rejections');
    expect(rejections!.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }))).toEqual(
      expect.arrayContaining([
        { attributes: { 'wecom.kind': 'access_token', 'wecom.app': 'crm', 'wecom.errcode': 40014 }, value: 2 },
        { attributes: { 'wecom.kind': 'agent_ticket', 'wecom.app': 'crm', 'wecom.errcode': 42001 }, value: 1 },
      ]),
    );
    const refreshFailures = await reader.metric('wecom.credential.refresh.failures');
    expect(refreshFailures!.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ 'wecom.kind': 'access_token', 'wecom.app': 'crm' }, 1]]);
  });

  it('takes the meter when started: an SDK registered later is used from the next start on', async () => {
    const stopBefore = startMetrics(); // no SDK yet: the API's no-op provider, nothing subscribed for it
    expect(activeMetricSubscriptions()).toBe(0);
    expect(hasAnySubscriber()).toBe(false);
    const reader = registered();
    publishFetch(fetchOk);
    expect(await reader.metric('wecom.credential.fetches')).toBeUndefined();
    stopBefore();

    stops.push(startMetrics());
    publishFetch(fetchOk);
    expect((await reader.metric('wecom.credential.fetches'))!.dataPoints[0].value).toBe(1);
  });

  it('shares one subscription among the starts of several modules and apps, and unsubscribes after the last stop', async () => {
    const reader = registered();
    const first = startMetrics();
    const second = startMetrics();
    const third = startMetrics();
    expect(activeMetricSubscriptions()).toBe(1);
    publishFetch(fetchOk);
    expect((await reader.metric('wecom.credential.fetches'))!.dataPoints[0].value).toBe(1);

    first();
    first(); // idempotent: one start, one stop
    second();
    publishFetch(fetchOk);
    expect((await reader.metric('wecom.credential.fetches'))!.dataPoints[0].value).toBe(2);
    expect(hasAnySubscriber()).toBe(true);

    third();
    expect(activeMetricSubscriptions()).toBe(0);
    expect(hasAnySubscriber()).toBe(false);
    publishFetch(fetchOk);
    expect((await reader.metric('wecom.credential.fetches'))!.dataPoints[0].value).toBe(2);
  });

  it('records on an explicitly given provider, apart from the global one', async () => {
    const global = registered();
    const own = sdk();
    providers.push(own.provider);
    stops.push(startMetrics({ meterProvider: own.provider }));
    publishFetch(fetchOk);
    expect((await own.reader.metric('wecom.credential.fetches'))!.dataPoints[0].value).toBe(1);
    expect(await global.metric('wecom.credential.fetches')).toBeUndefined();
  });

  it('never lets a failing SDK break the publisher', async () => {
    const throwing = () => {
      throw new Error('exporter exploded');
    };
    const broken: WeComMeterProvider = {
      getMeter: () => ({ createCounter: () => ({ add: throwing }), createHistogram: () => ({ record: throwing }) }),
    };
    const uncaught = jest.fn();
    process.on('uncaughtException', uncaught);
    try {
      stops.push(startMetrics({ meterProvider: broken }));
      expect(() => publishFetch(fetchOk)).not.toThrow();
      expect(() => publishRejected({ kind: 'access_token', corpId: 'ww0001', app: 'crm', errcode: 40014 })).not.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', uncaught);
    }
  });

  it('is a no-op without @opentelemetry/api installed', () => {
    jest.isolateModules(() => {
      jest.doMock('@opentelemetry/api', () => {
        throw Object.assign(new Error("Cannot find module '@opentelemetry/api' from 'metrics.ts'"), { code: 'MODULE_NOT_FOUND' });
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const isolated = require('./metrics') as typeof import('./metrics.js');
      const stop = isolated.startMetrics();
      expect(isolated.activeMetricSubscriptions()).toBe(0);
      expect(hasAnySubscriber()).toBe(false);
      stop();
    });
    jest.dontMock('@opentelemetry/api');
  });
});
