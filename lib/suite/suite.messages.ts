/**
 * Every user-facing message of the suite module, as functions; none takes a secret, a code or a token.
 */

/** getSuiteToken before any suite_ticket arrived. */
export function noSuiteTicketMessage(suiteId: string): string {
  return `no suite_ticket has been received for suite ${suiteId} yet (or the last one is older than 30 minutes): WeCom pushes one to the suite's 指令回调 URL every 10 minutes; check that this URL reaches SuiteService.handleCallback, or press "刷新Ticket" in the provider console`;
}

/** A corp's token was asked for with no permanent code stored. */
export function noPermanentCodeMessage(authCorpId: string): string {
  return `no permanent code is stored for corp ${authCorpId}: it has not authorised the suite, or the create_auth callback was not handled (PermanentCodeStore.get returned nothing)`;
}

/** A corp cancelled its authorisation. */
export function cancelledCorpMessage(authCorpId: string): string {
  return `corp ${authCorpId} cancelled its authorisation of the suite (cancel_auth): its token is no longer served; it must install the suite again`;
}

/** A callback of another suite. */
export function otherSuiteMessage(expected: string, got: string): string {
  return `the callback names suite ${got}, not ${expected}`;
}
