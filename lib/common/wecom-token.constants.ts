/** Name of the app registered by `forRoot` / `forRootAsync` without a `name`. */
export const DEFAULT_APP_NAME = 'default';

/** WeCom's public API root. */
export const DEFAULT_BASE_URL = 'https://qyapi.weixin.qq.com';

/** Refresh this many seconds before expiry, unless that is earlier than half the token's lifetime. */
export const DEFAULT_REFRESH_AHEAD_SECONDS = 300;

/** HTTP timeout of one call to WeCom. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Prefix of every key this module writes to a shared cache; `v1` is the entry layout's version. */
export const CACHE_KEY_PREFIX = 'wecom:v1';

/** Path of WeCom's token endpoint. */
export const GETTOKEN_PATH = '/cgi-bin/gettoken';

/** errcodes that mean "this access_token was rejected": invalidate it, fetch once, replay once. */
export const TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([40014, 42001]);

/** errcodes worth a bounded, jittered retry (system busy, concurrency limit). */
export const TRANSIENT_ERRCODES: ReadonlySet<number> = new Set([-1, 45033]);

/** errcode of the frequency limit: retrying makes it worse, so it gets a long cool-down. */
export const RATE_LIMITED_ERRCODE = 45009;

/** Default bounded retry of transient failures. */
export const DEFAULT_RETRY = { attempts: 3, baseDelayMs: 200, maxDelayMs: 3_000 } as const;

/** How long a credential or permission failure of gettoken is remembered and answered without calling WeCom. */
export const DEFAULT_ERROR_COOLDOWN_MS = 30_000;

/** How long a 45009 (frequency limit) on gettoken stops further gettoken calls; WeCom's shortest block lasts 60 s. */
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;

/** Bound on every shared-cache operation: a slow or dead store must never hang a caller. */
export const DEFAULT_CACHE_TIMEOUT_MS = 1_000;

/** How many recently rejected tokens an app remembers, so that none is served again from any copy. */
export const REJECTED_TOKENS_REMEMBERED = 16;

/** Requests to one credential endpoint that one app may send in any `FETCH_BUDGET_WINDOW_MS`, per process. */
export const FETCH_BUDGET = 10;

/** The window of the fetch budget. */
export const FETCH_BUDGET_WINDOW_MS = 60_000;

/** First cool-down after a fetch failed for a reason other than credentials or 45009 (HTML, 5xx, dropped, …). */
export const DEFAULT_FAILURE_COOLDOWN_MS = 1_000;

/** The growing cool-down stops growing here. */
export const OTHER_FAILURE_COOLDOWN_MAX_MS = 30_000;

/** Longest lifetime a credential is given, whatever `expires_in` says. */
export const MAX_LIFETIME_SECONDS = 86_400;

/** Longest delay Node's timers can hold (2^31-1 ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Path of the corp's JS-SDK ticket (`wx.config` / `ww.register`). */
export const JSAPI_TICKET_PATH = '/cgi-bin/get_jsapi_ticket';

/** Path of the app's JS-SDK ticket (`wx.agentConfig`), with `type=agent_config`. */
export const AGENT_TICKET_PATH = '/cgi-bin/ticket/get';
