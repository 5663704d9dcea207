/**
 * One app a `WeComAppRegistry` holds in memory: its config, its token service (built by the registry) and, on first
 * use, its tickets and client. A fetch that fails recovers through the registry (a rotated secret, a closed app).
 */
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import type { WeComTokenConfig } from '../common/wecom-token.config.js';
import type { Credential } from '../engine/credential.js';
import { AccessTokenInterceptor } from '../http/access-token.interceptor.js';
import { WeComClient } from '../http/wecom.client.js';
import type { AccessTokenService, TokenRecovery } from './access-token.service.js';
import { JsapiTicketService } from './jsapi-ticket.service.js';

/** What an entry asks of its registry when a fetch failed. */
export interface RegistryRecovery {
  recover(key: string, tokens: AccessTokenService, error: unknown): Promise<string>;
}

/** One app held in memory. */
export class RegistryEntry implements TokenRecovery {
  lastUsed = Date.now();
  /** Assigned right after construction (the service recovers through this entry). */
  tokens!: AccessTokenService;
  /** `tokens.credential`, for the per-call path. */
  credential!: Credential;
  private ticketService?: JsapiTicketService;
  private wecomClient?: WeComClient;

  constructor(
    readonly config: WeComTokenConfig,
    private readonly registry: RegistryRecovery,
    private readonly key: string,
  ) {}

  /** Called only after a fetch of this app's service failed, or once it was closed. */
  recover(error: unknown): Promise<string> {
    return this.registry.recover(this.key, this.tokens, error);
  }

  /** Same corp, secret, agent, root and proxy: a register() of these changes nothing. */
  sameAs(config: WeComTokenConfig): boolean {
    const a = this.config;
    return a.cacheKey === config.cacheKey && a.agentId === config.agentId && a.baseUrl === config.baseUrl && String(a.proxy) === String(config.proxy);
  }

  tickets(): JsapiTicketService {
    return (this.ticketService ??= new JsapiTicketService(this.config, this.tokens));
  }

  client(): WeComClient {
    if (!this.wecomClient) {
      const http = new HttpService(axios.create({ ...this.tokens.egress.axios, baseURL: this.config.baseUrl, timeout: this.config.timeoutMs, maxRedirects: 0 }));
      new AccessTokenInterceptor(this.tokens).attach(http);
      this.wecomClient = new WeComClient(http, this.tokens);
    }
    return this.wecomClient;
  }

  get busy(): boolean {
    return this.tokens.credential.busy;
  }

  /** Stops its credentials (the registry's lock and egress pool are shared: they are closed by the registry). */
  close(): void {
    this.tokens.credential.close();
    this.ticketService?.onModuleDestroy();
  }
}
