/**
 * The encrypted 指令回调 of a simulated suite (WeCom notes §5), as WeCom would POST them, and the URL check of the
 * 指令回调 URL. suites.ts keeps the state; building a callback changes it as WeCom's sending would (a suite_ticket is
 * issued, an auth_code created, a corp cancelled).
 */
import { WeComCrypto } from '../../crypto/wecom-crypto.js';
import { buildEncryptedEnvelope, buildSuiteCallbackXml, buildUrlVerification } from '../../crypto/callback-message.js';
import type { EncryptedCallback } from '../../crypto/callback-message.js';
import type { SimulatedSuite } from './types.js';

/** A callback event the simulator can produce, with what the test may want to choose. */
export type SimulatedSuiteEvent = 'suite_ticket' | 'create_auth' | 'cancel_auth' | 'change_auth' | 'reset_permanent_code';

/** Options of {@link SuiteRegistry.callback}. */
export interface SuiteCallbackOptions {
  suiteId?: string;
  /** The authorising corp (cancel_auth, change_auth, reset_permanent_code; create_auth creates one by default). */
  corpId?: string;
  /** Seconds; now by default. */
  timeStamp?: number;
  /** The suite_ticket to send; a new one is issued by default. */
  suiteTicket?: string;
}

/** A callback as WeCom would POST it, and the values it carries. */
export interface SimulatedSuiteCallback extends EncryptedCallback {
  readonly suiteTicket?: string;
  readonly authCode?: string;
  readonly corpId?: string;
}

/** A configured suite with its callback crypto. */
export type KnownSuite = Required<SimulatedSuite> & { crypto: WeComCrypto };

/** What sending a callback does to the suite state (suites.ts). */
export interface SuiteCallbackState {
  issueTicket(suiteId: string): string;
  createAuthCode(suiteId: string, corpId?: string): { authCode: string; corpId: string };
  cancelAuth(corpId: string, suiteId: string): void;
}

/** The encrypted callback WeCom would POST for an event of `suite`. */
export function buildSuiteCallback(state: SuiteCallbackState, suite: KnownSuite, event: SimulatedSuiteEvent, options: SuiteCallbackOptions = {}): SimulatedSuiteCallback {
  const timeStamp = options.timeStamp ?? Math.floor(Date.now() / 1000);
  const seal = (xml: string, extra: Partial<SimulatedSuiteCallback>): SimulatedSuiteCallback => ({ ...buildEncryptedEnvelope(suite.crypto, xml), ...extra });
  const needCorp = (): string => {
    if (!options.corpId) throw new Error(`a ${event} callback needs options.corpId`);
    return options.corpId;
  };
  switch (event) {
    case 'suite_ticket': {
      const suiteTicket = options.suiteTicket ?? state.issueTicket(suite.suiteId);
      return seal(buildSuiteCallbackXml({ infoType: event, suiteId: suite.suiteId, suiteTicket, timeStamp }), { suiteTicket });
    }
    case 'create_auth': {
      const { authCode, corpId } = state.createAuthCode(suite.suiteId, options.corpId);
      return seal(buildSuiteCallbackXml({ infoType: event, suiteId: suite.suiteId, authCode, timeStamp }), { authCode, corpId });
    }
    case 'reset_permanent_code': {
      const { authCode, corpId } = state.createAuthCode(suite.suiteId, needCorp());
      return seal(buildSuiteCallbackXml({ infoType: event, suiteId: suite.suiteId, authCode, timeStamp }), { authCode, corpId });
    }
    case 'cancel_auth': {
      const corpId = needCorp();
      state.cancelAuth(corpId, suite.suiteId);
      return seal(buildSuiteCallbackXml({ infoType: event, suiteId: suite.suiteId, authCorpId: corpId, timeStamp }), { corpId });
    }
    case 'change_auth': {
      const corpId = needCorp();
      return seal(buildSuiteCallbackXml({ infoType: event, suiteId: suite.suiteId, authCorpId: corpId, timeStamp }), { corpId });
    }
    default:
      throw new Error(`unknown suite callback event '${String(event)}'`);
  }
}

/** The URL check WeCom sends when the 指令回调 URL is saved (receiveId: the suiteId by default), and the echo expected. */
export function buildSuiteUrlVerification(
  suite: KnownSuite,
  receiveId?: string,
): { query: { msg_signature: string; timestamp: string; nonce: string; echostr: string }; expected: string } {
  const crypto = receiveId === undefined ? suite.crypto : new WeComCrypto({ token: suite.callbackToken, encodingAESKey: suite.encodingAESKey, receiveId });
  const expected = String(Date.now()) + String(Math.floor(Math.random() * 1e6));
  return { query: buildUrlVerification(crypto, expected), expected };
}
