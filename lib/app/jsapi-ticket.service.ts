/**
 * The JS-SDK tickets of one app: the corp ticket (`wx.config` / `ww.register`'s getConfigSignature) and the agent
 * ticket (`wx.agentConfig` / getAgentConfigSignature), each a credential of the engine, and the signatures pages
 * need. WeCom allows 100 ticket fetches per app and 400 per corp an hour: tickets are cached and shared exactly
 * like tokens, and a page that reports "invalid signature" in a loop cannot burn that quota.
 */
import { Logger, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { inspect } from 'node:util';
import { hasHtmlEscapes, jsapiSignature, nonce, signableUrl, timestampSeconds } from '../crypto/jsapi-signature.js';
import { Credential } from '../engine/credential.js';
import { publishRejected } from '../observability/diagnostics.js';
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import { maskToken } from '../common/redaction.js';
import { AGENT_TICKET_PATH, JSAPI_TICKET_PATH, TOKEN_REJECTED_ERRCODES } from '../common/wecom-token.constants.js';
import { htmlEscapedUrlMessage, noAgentIdMessage } from '../common/wecom-token.messages.js';
import { AccessTokenService } from './access-token.service.js';
import { credentialHttp, CredentialRequest, entryFromBody, requestCredential } from '../common/credential-request.js';
import { settingsOf, type WeComTokenConfig } from '../common/wecom-token.config.js';

/** Which ticket: the corp's (jsapi_ticket) or the app's (agent_config). */
export type JsapiTicketKind = 'corp' | 'agent';

/** What `ww.register` / `wx.config` needs from the server. */
export interface JsapiConfigSignature {
  corpId: string;
  timestamp: number;
  nonceStr: string;
  signature: string;
}

/** What `ww.register`'s agent part / `wx.agentConfig` needs from the server. */
export interface JsapiAgentConfigSignature extends JsapiConfigSignature {
  agentId: string;
}

/** @internal What the tickets need of the token they are fetched with (an app's, or an authorised corp's). */
export type TicketTokenSource = Pick<AccessTokenService, 'egress' | 'cache' | 'lock' | 'scheduler' | 'getToken' | 'invalidate'>;

/**
 * One app's JS-SDK tickets and signatures. Injected as `JsapiTicketService` for the default app,
 * `@InjectJsapiTicketService(name)` for a named one.
 */
export class JsapiTicketService implements OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(JsapiTicketService.name);
  private readonly corp: Credential;
  private readonly agent?: Credential;
  /** The tickets the application has asked for: the ones the health indicator covers. */
  private readonly asked = new Set<JsapiTicketKind>();

  /** @internal Built by `WeComTokenModule`. */
  constructor(
    private readonly config: WeComTokenConfig,
    private readonly tokens: TicketTokenSource,
    /**
     * @internal The agentid when it is known only later (an authorised corp's, kept from get_permanent_code): the
     * agent ticket is then always set up, and the id is read when a signature needs it.
     */
    private readonly agentIdOf?: () => Promise<string | undefined>,
  ) {
    const http = credentialHttp(config.baseUrl, tokens.egress.axios);
    const keyPrefix = config.cacheKey.slice(0, -':access_token'.length);
    const ref = { corpId: config.corpId, app: config.app };
    const common = {
      ...settingsOf(config, ref),
      valueField: 'ticket' as const,
      cache: tokens.cache,
      lock: tokens.lock,
      ...(config.backgroundRefresh && tokens.scheduler ? { scheduler: tokens.scheduler } : {}),
    };
    const fetcher =
      (req: CredentialRequest) =>
      async (signal: AbortSignal): Promise<TokenEntry> => {
        const fetchedAt = Date.now();
        const body = await this.withToken((token) => requestCredential(http, ref, { ...req, params: { ...req.params, access_token: token } }, signal, config.timeoutMs));
        return entryFromBody(ref, req, body, 'ticket', fetchedAt);
      };
    this.corp = new Credential(
      {
        ...common,
        kind: 'jsapi_ticket',
        timerName: `WeComTicketRefresh(${config.app}:corp)`,
        cacheKey: `${keyPrefix}:jsapi_ticket`,
        fetchOnce: fetcher({ method: 'GET', path: JSAPI_TICKET_PATH }),
      },
      JsapiTicketService.name,
    );
    if (config.agentId !== undefined || agentIdOf) {
      this.agent = new Credential(
        {
          ...common,
          kind: 'agent_ticket',
          timerName: `WeComTicketRefresh(${config.app}:agent)`,
          cacheKey: `${keyPrefix}:agent_ticket`,
          fetchOnce: fetcher({ method: 'GET', path: AGENT_TICKET_PATH, params: { type: 'agent_config' } }),
        },
        JsapiTicketService.name,
      );
    }
  }

  /** The registered app name. */
  get appName(): string {
    return this.config.app;
  }

  /** The corp ticket (`/cgi-bin/get_jsapi_ticket`), for `wx.config` / `ww.register`'s getConfigSignature. */
  getCorpTicket(): Promise<string> {
    this.asked.add('corp');
    return this.corp.get();
  }

  /** The agent ticket (`/cgi-bin/ticket/get?type=agent_config`), for `wx.agentConfig`; needs `agentId`. */
  getAgentTicket(): Promise<string> {
    return this.agentCredential().then((c) => c.get());
  }

  /** The signature of `url` (its `#fragment` dropped) with the corp ticket: what `ww.register` / `wx.config` needs. */
  async signConfig(url: string): Promise<JsapiConfigSignature> {
    const signable = this.signable(url);
    this.asked.add('corp');
    return { corpId: this.config.corpId, ...sign(await this.corp.get(), signable) };
  }

  /** The signature of `url` with the agent ticket: what `wx.agentConfig` needs. Needs `agentId`. */
  async signAgentConfig(url: string): Promise<JsapiAgentConfigSignature> {
    const signable = this.signable(url);
    const agent = await this.agentCredential();
    const agentId = this.config.agentId ?? (await this.agentIdOf?.());
    if (agentId === undefined) throw new WeComConfigError(noAgentIdMessage(this.config.app));
    return { corpId: this.config.corpId, agentId, ...sign(await agent.get(), signable) };
  }

  /**
   * A page reported "invalid signature": forget the ticket (with `rejectedTicket`, only while it is still the one
   * held and cached). The next fetch counts towards the budget like any other, so a page in a loop cannot burn
   * the hourly ticket quota.
   */
  async invalidate(kind: JsapiTicketKind, rejectedTicket?: string): Promise<void> {
    const credential = kind === 'agent' ? await this.agentCredential() : this.corp;
    await credential.invalidate(rejectedTicket, { grant: false });
  }

  /** @internal The tickets asked for so far (`getCorpTicket`, `signConfig`, …): what the health indicator checks. */
  askedKinds(): readonly JsapiTicketKind[] {
    return [...this.asked];
  }

  /** The held tickets' entries, without I/O. */
  peek(kind: JsapiTicketKind): Readonly<TokenEntry> | undefined {
    return (kind === 'agent' ? this.agent : this.corp)?.peek();
  }

  /** @internal Aborts fetches in flight and stops the refresh timers. */
  onModuleDestroy(): void {
    this.corp.close();
    this.agent?.close();
  }

  /** @internal */
  onApplicationShutdown(): void {
    this.onModuleDestroy();
  }

  /** @internal Shows the app, never a whole ticket. */
  [inspect.custom](): string {
    return `JsapiTicketService { app: '${this.config.app}', corpId: '${this.config.corpId}', corpTicket: ${maskToken(this.corp.peek()?.token)}, agentTicket: ${maskToken(this.agent?.peek()?.token)} }`;
  }

  /** @internal */
  toJSON(): Record<string, unknown> {
    return { app: this.config.app, corpId: this.config.corpId, corpTicket: maskToken(this.corp.peek()?.token), agentTicket: maskToken(this.agent?.peek()?.token) };
  }

  private agentCredential(): Promise<Credential> {
    if (!this.agent) return Promise.reject(new WeComConfigError(noAgentIdMessage(this.config.app)));
    // Only an app that has an agent ticket has it checked by the health indicator: without agentId it is a caller's bug.
    this.asked.add('agent');
    return Promise.resolve(this.agent);
  }

  private signable(url: string): string {
    const signable = signableUrl(url);
    if (hasHtmlEscapes(signable)) this.logger.warn(htmlEscapedUrlMessage(this.config.app));
    return signable;
  }

  /**
   * A ticket request with the app's access token; answered 40014/42001, the token is replaced once (the same wave
   * logic as WeComClient: compare-and-delete of exactly the token sent) and the request replayed once.
   */
  private async withToken<T>(send: (token: string) => Promise<T>): Promise<T> {
    const token = await this.tokens.getToken();
    try {
      return await send(token);
    } catch (error) {
      if (!(error instanceof WeComApiError) || !TOKEN_REJECTED_ERRCODES.has(error.errcode)) throw error;
      publishRejected({ kind: 'access_token', corpId: this.config.corpId, app: this.config.app, errcode: error.errcode });
      await this.tokens.invalidate(token);
      return send(await this.tokens.getToken());
    }
  }
}

function sign(ticket: string, url: string): { timestamp: number; nonceStr: string; signature: string } {
  const timestamp = timestampSeconds();
  const nonceStr = nonce();
  return { timestamp, nonceStr, signature: jsapiSignature({ ticket, nonceStr, timestamp, url }) };
}
