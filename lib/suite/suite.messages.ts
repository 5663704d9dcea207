/**
 * Every user-facing message of the suite module, as functions; none takes a secret, a code or a token.
 */
import { quoteUntrusted } from '../common/redaction.js';

/** getSuiteToken before any suite_ticket arrived. */
export function noSuiteTicketMessage(suiteId: string): string {
  return `no suite_ticket has been received for suite ${suiteId} yet (or the last one is older than 30 minutes): WeCom pushes one to the suite's 指令回调 URL every 10 minutes; check that this URL reaches SuiteService.handleCallback, or press "刷新Ticket" in the provider console`;
}

/** A corp's token was asked for with no permanent code stored. */
export function noPermanentCodeMessage(authCorpId: string): string {
  return `no permanent code is stored for corp ${quoteUntrusted(authCorpId)}: it has not authorised the suite, or the create_auth callback was not handled (PermanentCodeStore.get returned nothing)`;
}

/** A corp cancelled its authorisation. */
export function cancelledCorpMessage(authCorpId: string): string {
  return `corp ${quoteUntrusted(authCorpId)} cancelled its authorisation of the suite (cancel_auth): its token is no longer served; it must install the suite again`;
}

/** A callback of another suite. */
export function otherSuiteMessage(expected: string, got: string): string {
  return `the callback names suite ${quoteUntrusted(got)}, not ${expected}`;
}

/** An id as it appears in a message: always quoted (newlines and quotes escaped) and cut at 64 characters. */
export function quotedId(id: string): string {
  return quoteUntrusted(id, 64, true);
}

/** A call of the application's PermanentCodeStore did not settle within the suite's timeoutMs. */
export function permanentCodeStoreTimeoutMessage(suiteId: string, call: 'get' | 'set' | 'delete', authCorpId: string, timeoutMs: number): string {
  return `PermanentCodeStore.${call}(${quotedId(authCorpId)}) of suite ${suiteId} did not answer within ${timeoutMs} ms (timeoutMs): that corp is not served until the store answers; check the store (database, secret store) behind permanentCodes`;
}

/** The previous PermanentCodeStore.get of a corp never settled: no second call is stacked on it. */
export function permanentCodeStorePendingMessage(suiteId: string, authCorpId: string): string {
  return `PermanentCodeStore.get(${quotedId(authCorpId)}) of suite ${suiteId} has still not answered an earlier call (it took longer than timeoutMs): that corp is not served until the store answers; check the store behind permanentCodes`;
}

/** A callback reached a suite that is closing (app.close()): refused, WeCom retries it on another instance. */
export function suiteClosingMessage(suiteId: string): string {
  return `WeComSuiteModule: suite ${suiteId} is shutting down; the callback is not handled (WeCom retries it)`;
}
