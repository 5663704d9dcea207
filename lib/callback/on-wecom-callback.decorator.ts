import { SetMetadata } from '@nestjs/common';
import type { WeComCallbackFilter } from './callback.interfaces.js';

/** Metadata key of `@OnWeComCallback` on a method. */
export const WECOM_CALLBACK_HANDLER = 'wecom:callback-handler';

/**
 * Run this provider method for each callback that matches `filter` (every app's callbacks without one). Found at
 * start-up, like `@OnEvent`: the method gets a `WeComCallbackMessage` and may return `{ reply }`.
 */
export const OnWeComCallback = (filter: WeComCallbackFilter = {}): MethodDecorator => SetMetadata(WECOM_CALLBACK_HANDLER, { ...filter });
