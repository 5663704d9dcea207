import { Body, Controller, Get, HttpCode, Injectable, Post, Query } from '@nestjs/common';
import { OnWeComCallback, WeComCallbackService, type CallbackQuery, type WeComCallbackMessage } from 'nestjs-wecom-token';

/** The path configured as the app's 接收消息 URL: one path, GET (URL check) and POST (messages and events). */
export const APP_CALLBACK_PATH = 'wecom/callback';

/** The sample's handler: answers a text message with a passive reply (WeCom shows it in the chat). */
@Injectable()
export class SampleCallbackHandlers {
  @OnWeComCallback({ msgType: 'text' })
  onText(message: WeComCallbackMessage): { reply: string } {
    return { reply: `You said: ${String(message.fields['Content'])}` };
  }
}

/** The app's callback URL, handed to WeComCallbackService as received; a refused callback rejects (the filter answers 400). */
@Controller(APP_CALLBACK_PATH)
export class AppCallbackController {
  constructor(private readonly callbacks: WeComCallbackService) {}

  @Get()
  verify(@Query() query: CallbackQuery): Promise<string> {
    return this.callbacks.handle(query);
  }

  @Post()
  @HttpCode(200)
  receive(@Query() query: CallbackQuery, @Body() body: string | Buffer): Promise<string> {
    return this.callbacks.handle(query, body);
  }
}
