import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { WeComDemoService } from './wecom-demo.service';

/** HTTP endpoints of the sample: each one makes a WeCom call through WeComClient. */
@Controller()
export class WeComDemoController {
  constructor(private readonly demo: WeComDemoService) {}

  @Get('token')
  token() {
    return this.demo.tokenInfo();
  }

  @Get('departments')
  departments() {
    return this.demo.departments();
  }

  @Get('users/:userid')
  user(@Param('userid') userid: string) {
    return this.demo.user(userid);
  }

  @Post('messages')
  send(@Body() body: { touser?: string; content?: string }) {
    return this.demo.sendText(body.touser ?? 'zhangsan', body.content ?? 'Hello from nestjs-wecom-token');
  }

  @Get('media/:mediaId')
  async media(@Param('mediaId') mediaId: string, @Query('download') download: string | undefined, @Res() res: Response) {
    const file = await this.demo.download(mediaId);
    res.setHeader('content-type', file.contentType);
    if (download !== undefined && file.filename) res.setHeader('content-disposition', `attachment; filename="${encodeURIComponent(file.filename)}"`);
    res.end(file.bytes);
  }
}
