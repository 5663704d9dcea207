/** Which callbacks a handler takes; every field given must match, an absent one matches anything. */
export interface WeComCallbackFilter {
  /** Only this app's own callback URL (`'default'` for the default app); never a suite's 数据回调. */
  app?: string;
  /** Only this suite's 数据回调 (`SuiteService.handleDataCallback`; `'default'` for the default suite); never an app's URL. */
  suite?: string;
  /** `text`, `image`, `event`, … */
  msgType?: string;
  /** The `Event` of an event: `enter_agent`, `change_contact`, `click`, … */
  event?: string;
  /** The `ChangeType` of a change_contact / change_external_contact event: `create_user`, `update_user`, … */
  changeType?: string;
}

/** A message or event received on an app's callback URL (or a suite's 数据回调), decrypted and checked. */
export interface WeComCallbackMessage {
  /** The name of the app that received it (for a suite's 数据回调: the suite's name, as in `suite`). */
  readonly app: string;
  /** The suite's name, when it came through a suite's 数据回调. */
  readonly suite?: string;
  /** The corp it came from: the app's corp, or the authorised corp of a suite's 数据回调. */
  readonly corpId: string;
  readonly agentId?: string;
  readonly fromUserName: string;
  readonly toUserName: string;
  /** Seconds. */
  readonly createTime: number;
  readonly msgType: string;
  readonly event?: string;
  readonly changeType?: string;
  readonly msgId?: string;
  /** Every field of the decrypted XML, by element name (`Content`, `UserID`, …), as text (or nested fields). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** What a handler may return: a passive text reply, encrypted by the module. */
export interface WeComCallbackReply {
  reply: string;
}
