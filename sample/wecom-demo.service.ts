import { Injectable, Logger } from '@nestjs/common';
import { AccessTokenService, maskToken, WeComClient } from 'nestjs-wecom-token';

/** A department as /cgi-bin/department/list returns it. */
export interface Department {
  id: number;
  name: string;
  parentid: number;
}

/** What the sample does with WeCom: the calls an application makes every day. */
@Injectable()
export class WeComDemoService {
  private readonly logger = new Logger(WeComDemoService.name);

  constructor(
    private readonly tokens: AccessTokenService,
    private readonly wecom: WeComClient,
  ) {}

  /** The current token, masked, with its expiry: never print a whole token. */
  async tokenInfo(): Promise<{ token: string; expiresAt: string; validForSeconds: number }> {
    await this.tokens.getToken();
    const entry = this.tokens.peek()!;
    return { token: maskToken(entry.token), expiresAt: new Date(entry.expiresAt).toISOString(), validForSeconds: Math.round((entry.expiresAt - Date.now()) / 1000) };
  }

  async departments(): Promise<Department[]> {
    const body = await this.wecom.get<{ department: Department[] }>('/cgi-bin/department/list');
    return body.department;
  }

  async user(userid: string): Promise<Record<string, unknown>> {
    return this.wecom.get('/cgi-bin/user/get', { userid });
  }

  async sendText(touser: string, content: string): Promise<{ msgid: string }> {
    const agentid = Number(this.tokens.agentId);
    const result = await this.wecom.post<{ msgid: string }>('/cgi-bin/message/send', { touser, msgtype: 'text', agentid, text: { content } });
    this.logger.log(`sent a text message to ${touser} (msgid ${result.msgid})`);
    return result;
  }

  async download(mediaId: string): Promise<{ filename?: string; contentType: string; bytes: Buffer }> {
    return this.wecom.download('/cgi-bin/media/get', { media_id: mediaId });
  }
}
