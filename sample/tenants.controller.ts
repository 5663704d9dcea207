import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { maskToken, WeComAppRegistry, WeComUnknownAppError, type JsapiConfigSignature, type WeComRegistryApp } from 'nestjs-wecom-token';

/**
 * The sample's "database" of tenants: each customer's WeCom app by tenant id. A real product reads a table here;
 * the registry asks it (through its loader) the first time a tenant is used, and again after a 40001.
 */
export class TenantTable {
  private readonly rows = new Map<string, WeComRegistryApp>();

  set(key: string, app: WeComRegistryApp): void {
    this.rows.set(key, app);
  }

  async find(key: string): Promise<WeComRegistryApp | undefined> {
    return this.rows.get(key);
  }
}

/** Routes of a multi-tenant product: the tenant's app comes from the registry, per request. */
@Controller('tenants')
export class TenantsController {
  constructor(private readonly registry: WeComAppRegistry) {}

  /** `GET /tenants/:key/departments`: a WeCom call with the tenant's own token. */
  @Get(':key/departments')
  async departments(@Param('key') key: string): Promise<unknown> {
    const client = await this.known(() => this.registry.client(key));
    return client.get('/cgi-bin/department/list');
  }

  /** `GET /tenants/:key/token`: the tenant's token, masked, and whether it is held in memory. */
  @Get(':key/token')
  async token(@Param('key') key: string): Promise<{ token: string; held: boolean }> {
    const tokens = await this.known(() => this.registry.tokens(key));
    return { token: maskToken(await tokens.getToken()), held: this.registry.has(key) };
  }

  /** `GET /tenants/:key/jssdk/config?url=…`: the JS-SDK signature of a page of this tenant. */
  @Get(':key/jssdk/config')
  async jssdk(@Param('key') key: string, @Query('url') url: string): Promise<JsapiConfigSignature> {
    const tickets = await this.known(() => this.registry.tickets(key));
    return tickets.signConfig(url);
  }

  /** A tenant neither registered nor in the table is a 404 that names the key (quoted and cut), nothing else. */
  private async known<T>(get: () => Promise<T>): Promise<T> {
    try {
      return await get();
    } catch (error) {
      if (error instanceof WeComUnknownAppError) throw new NotFoundException(error.message);
      throw error;
    }
  }
}
