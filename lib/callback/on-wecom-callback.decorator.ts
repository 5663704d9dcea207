import { SetMetadata } from '@nestjs/common';
import type { WeComCallbackFilter } from './callback.interfaces.js';

/** Metadata key of `@OnWeComCallback` on a method. */
export const WECOM_CALLBACK_HANDLER = 'wecom:callback-handler';

/**
 * Run this provider method for each callback that matches `filter` (every app's and suite's callbacks without one;
 * `app` for an app's own URL, `suite` for a suite's 数据回调). Found at start-up, like `@OnEvent`: the method gets a
 * `WeComCallbackMessage` and may return `{ reply }`.
 *
 * @throws Error when the filter names both an app and a suite (it could never match).
 */
export const OnWeComCallback = (filter: WeComCallbackFilter = {}): MethodDecorator => {
  if (filter.app !== undefined && filter.suite !== undefined) {
    throw new Error(`@OnWeComCallback: give app or suite, not both (app '${String(filter.app)}' and suite '${String(filter.suite)}' can never both receive one callback)`);
  }
  return SetMetadata(WECOM_CALLBACK_HANDLER, { ...filter });
};
