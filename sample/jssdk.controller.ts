import { BadRequestException, Controller, Get, Header, NotFoundException, Query } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsapiTicketService, type JsapiAgentConfigSignature, type JsapiConfigSignature } from 'nestjs-wecom-token';

/**
 * Where the page lives: beside the compiled controller when a build copies it there, else in the source folder.
 * `npm run build:sample` runs tsc only, which copies no HTML, so dist-sample/ finds it in ../sample/public.
 */
const PAGE_CANDIDATES = [join(__dirname, 'public', 'jssdk.html'), join(__dirname, '..', 'sample', 'public', 'jssdk.html')];

/**
 * What the JS-SDK needs from the server: `ww.register({ getConfigSignature, getAgentConfigSignature })` calls these
 * endpoints with the page's URL, and the page that shows how.
 */
@Controller('jssdk')
export class JssdkController {
  constructor(private readonly tickets: JsapiTicketService) {}

  /** The page showing the front-end side (`GET /jssdk/`). Read per request, so an edited page needs no rebuild. */
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  page(): string {
    const path = PAGE_CANDIDATES.find((candidate) => existsSync(candidate));
    if (!path) throw new NotFoundException(`sample/public/jssdk.html was not found (looked in ${PAGE_CANDIDATES.join(', ')})`);
    return readFileSync(path, 'utf8');
  }

  /** For `getConfigSignature` (wx.config): signed with the corp's jsapi_ticket. */
  @Get('config')
  config(@Query('url') url: unknown): Promise<JsapiConfigSignature> {
    return this.sign(url, (pageUrl) => this.tickets.signConfig(pageUrl));
  }

  /** For `getAgentConfigSignature` (wx.agentConfig): signed with the app's agent ticket; needs the app's agentId. */
  @Get('agent-config')
  agentConfig(@Query('url') url: unknown): Promise<JsapiAgentConfigSignature> {
    return this.sign(url, (pageUrl) => this.tickets.signAgentConfig(pageUrl));
  }

  /**
   * A missing or unsignable URL is the caller's mistake, so it is a 400 with the module's explanation (which never
   * repeats the URL). Other failures (WeCom errors, a missing agentId) go to the error filter.
   */
  private async sign<T>(url: unknown, signer: (pageUrl: string) => Promise<T>): Promise<T> {
    if (typeof url !== 'string' || url === '') {
      throw new BadRequestException("query parameter 'url' is required: the page's location.href (the #fragment is ignored), URL-encoded");
    }
    try {
      return await signer(url);
    } catch (error) {
      // signConfig / signAgentConfig reject a URL that is not absolute http(s) with a TypeError.
      if (error instanceof TypeError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
