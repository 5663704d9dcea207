import { Injectable } from '@nestjs/common';
import { InjectAccessTokenService, InjectWeComClient, WeComClient } from 'nestjs-wecom-token';
import type { AccessTokenService } from 'nestjs-wecom-token';

/** A WeCom user as `/cgi-bin/user/get` returns it (the fields this app reads). */
export interface WeComUser {
  userid: string;
  name: string;
  department: number[];
}

/** What an application writes on top of the module: the default app's client, and the contacts app by name. */
@Injectable()
export class DirectoryService {
  constructor(
    private readonly client: WeComClient,
    @InjectWeComClient('contacts') private readonly contacts: WeComClient,
    @InjectAccessTokenService('contacts') readonly contactsTokens: AccessTokenService,
  ) {}

  /** Through the default app. */
  user(userid: string): Promise<WeComUser> {
    return this.client.get<WeComUser>('/cgi-bin/user/get', { userid });
  }

  /** Through the contacts-sync app. */
  async departmentNames(): Promise<string[]> {
    const body = await this.contacts.get<{ department: Array<{ name: string }> }>('/cgi-bin/department/list');
    return body.department.map((d) => d.name);
  }
}
