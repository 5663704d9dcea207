/**
 * Helpers of the identity tests: one Nest application with routes behind WeComAuthGuard, served over real HTTP on
 * Express or Fastify, and a small browser (a cookie jar, manual redirects, a user agent) that records every
 * Set-Cookie it receives for the leak scans.
 */
import { Controller, DynamicModule, Get, INestApplication, Module, Post, Type, UseGuards } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { WeComAuth, WeComAuthGuard, WeComTokenModule, WeComTokenModuleOptions, WeComUser } from '../../lib';
import type { WeComIdentity } from '../../lib';
import type { WeComSimulator } from '../../lib/testing';
import { CapturingLogger } from '../support/capture';

/** The platforms every identity test runs on. */
export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

@Controller()
class IdentityController {
  @Get('me')
  @UseGuards(WeComAuthGuard)
  me(@WeComUser() user: WeComIdentity): WeComIdentity {
    return user;
  }

  @Post('me')
  @UseGuards(WeComAuthGuard)
  postMe(@WeComUser() user: WeComIdentity): WeComIdentity {
    return user;
  }

  @Get('crm/me')
  @WeComAuth({ app: 'crm' })
  crm(@WeComUser() user: WeComIdentity): WeComIdentity {
    return user;
  }

  @Get('open')
  open(@WeComUser() user: WeComIdentity | undefined): { user: WeComIdentity | null } {
    return { user: user ?? null };
  }
}

/** The default app's options against a simulator (its pages are oauthBaseUrl and loginBaseUrl). */
export function appOptions(sim: WeComSimulator, extra: Partial<WeComTokenModuleOptions> = {}): WeComTokenModuleOptions {
  return {
    corpId: sim.corpId,
    secret: sim.secretOf(),
    agentId: sim.app().agentId,
    baseUrl: sim.baseUrl,
    oauthBaseUrl: sim.baseUrl,
    loginBaseUrl: sim.baseUrl,
    ...extra,
  };
}

/** A served application with the identity routes. */
export interface Served {
  readonly app: INestApplication;
  readonly url: string;
  readonly logger: CapturingLogger;
  close(): Promise<void>;
}

/** Serve the identity routes on `platform`, with `imports` (WeComTokenModule registrations), on 127.0.0.1:0. */
export async function serve(
  platform: Platform,
  imports: Array<DynamicModule | Type<unknown>>,
  options: { trustProxy?: boolean; controllers?: Type<unknown>[] } = {},
): Promise<Served> {
  @Module({ imports, controllers: options.controllers ?? [IdentityController] })
  class IdentityTestModule {}
  const logger = new CapturingLogger();
  const moduleRef = await Test.createTestingModule({ imports: [IdentityTestModule] })
    .setLogger(logger)
    .compile();
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy === true });
  const app = moduleRef.createNestApplication(adapter, { logger });
  if (platform === 'express' && options.trustProxy) (app as unknown as { set(k: string, v: unknown): void }).set('trust proxy', true);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${address.port}`, logger, close: () => app.close() };
}

/** Boot a default app (and a named `crm` app) against `sim` on `platform`. */
export function serveApp(platform: Platform, sim: WeComSimulator, extra: Partial<WeComTokenModuleOptions> = {}, options: { trustProxy?: boolean } = {}): Promise<Served> {
  return serve(platform, [WeComTokenModule.forRoot(appOptions(sim, extra)), WeComTokenModule.forRoot({ ...appOptions(sim), name: 'crm' })], options);
}

/** One answer, with what the browser made of it. */
export interface Step {
  readonly url: string;
  readonly status: number;
  readonly location?: string;
  readonly setCookies: readonly string[];
  readonly body: string;
}

/** A browser as far as the guard can tell: a cookie jar (by host, as browsers keep them), a user agent, redirects. */
export class Browser {
  readonly jar = new Map<string, string>();
  /** Every Set-Cookie header value received, for the leak scans. */
  readonly setCookies: string[] = [];

  constructor(
    readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0',
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  /** One request, no redirect followed. */
  async request(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Step> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { 'user-agent': this.userAgent, ...(cookie ? { cookie } : {}), ...this.extraHeaders, ...init.headers },
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      this.setCookies.push(line);
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return { url, status: res.status, ...(location !== undefined ? { location: new URL(location, url).toString() } : {}), setCookies, body: await res.text() };
  }

  /** Follow redirects from `url` until an answer that is not 3xx (at most `max` hops). */
  async follow(url: string, max = 10): Promise<{ final: Step; steps: Step[] }> {
    const steps: Step[] = [];
    let next = url;
    for (let i = 0; i < max; i++) {
      const step = await this.request(next);
      steps.push(step);
      if (step.status < 300 || step.status >= 400 || !step.location) return { final: step, steps };
      next = step.location;
    }
    throw new Error(`more than ${max} redirects from ${url}: ${steps.map((s) => `${s.status} ${s.url}`).join(' -> ')}`);
  }

  /** A copy with the same cookies (a second tab, or the same browser after a restart). */
  clone(): Browser {
    const copy = new Browser(this.userAgent, this.extraHeaders);
    for (const [k, v] of this.jar) copy.jar.set(k, v);
    return copy;
  }
}

/** The session cookie's payload (it is signed, not encrypted): what it tells anyone who reads it. */
export function sessionPayload(value: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(decodeURIComponent(value).split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Every Set-Cookie value as sent and, for values that look like `base64url.signature`, their decoded payload too:
 * a leak scan of the raw header alone would miss a ticket inside the (signed, not encrypted) session.
 */
export function cookieText(setCookies: readonly string[]): string {
  const out: string[] = [];
  for (const line of setCookies) {
    out.push(line);
    const value = decodeURIComponent(line.split(';')[0].split('=').slice(1).join('='));
    for (const part of value.split('.')) out.push(Buffer.from(part, 'base64url').toString('utf8'));
  }
  return out.join('\n');
}
