import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { WeComHealthIndicator } from 'nestjs-wecom-token/health';
import { OnDemandMetricReader, SAMPLE_METRIC_READER, type MetricJson } from './metrics';

/** What an operator looks at: the health of the WeCom apps, and the module's metrics. */
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly wecom: WeComHealthIndicator,
    @Inject(SAMPLE_METRIC_READER) private readonly reader: OnDemandMetricReader,
  ) {}

  /**
   * `GET /health`: terminus' answer, 200 when every WeCom app holds a valid token or can fetch one, 503 with the
   * errcode and hint otherwise. Polling it does not turn into gettoken calls (the indicator remembers failures).
   */
  @Get('health')
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.wecom.check()]);
  }

  /**
   * `GET /metrics`: the `wecom.credential.*` metrics collected so far, as JSON. A real deployment exports them
   * (OTLP, Prometheus) instead; the sample shows what is recorded.
   */
  @Get('metrics')
  async metrics(): Promise<{ metrics: MetricJson[] }> {
    return { metrics: await this.reader.wecomMetrics() };
  }
}
