import { buildEncryptedEnvelope, buildSuiteCallbackXml, buildUrlVerification, parseSuiteCallback } from '../crypto/callback-message.js';
import { WeComCallbackError } from '../crypto/wecom-callback.error.js';
import { WeComCrypto } from '../crypto/wecom-crypto.js';
import { InProcessDeliveryLedger, SharedDeliveryLedger } from './delivery-ledger.js';
import { deliveryIdOf, MAX_CALLBACK_BODY_BYTES, openCallback, openUrlCheck } from './inbound.js';
import { InProcessTokenLock } from '../engine/in-process-token-lock.js';
import { createCache } from 'cache-manager';

const crypto = new WeComCrypto({ token: 'cbToken', encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', receiveId: 'wwsuite1' });
const NOW = 1_760_000_000_000;
const ticketXml = buildSuiteCallbackXml({ infoType: 'suite_ticket', suiteId: 'wwsuite1', suiteTicket: 'ticket-1', timeStamp: NOW / 1000 });

function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof WeComCallbackError) return error.reason;
    throw error;
  }
  throw new Error('not refused');
}

/** A parser that counts its calls: nothing refused may reach it. */
function countingParse() {
  const calls = { n: 0 };
  return { calls, parse: (xml: string) => (calls.n++, parseSuiteCallback(xml)) };
}

describe('openCallback', () => {
  it('opens a signed, fresh delivery and names it by the hash of its decrypted content', () => {
    const { query, body } = buildEncryptedEnvelope(crypto, ticketXml, { timestamp: NOW / 1000 });
    const { parse, calls } = countingParse();
    const opened = openCallback({ crypto, query, body, parse, now: NOW });
    expect(opened.message).toMatchObject({ infoType: 'suite_ticket', suiteTicket: 'ticket-1' });
    expect(opened.deliveryId).toBe(deliveryIdOf(ticketXml));
    expect(calls.n).toBe(1);
    // The same content under another signature/nonce/timestamp is the same delivery (a replay re-signed by WeCom's retry).
    const again = buildEncryptedEnvelope(crypto, ticketXml, { timestamp: NOW / 1000 + 10 });
    expect(openCallback({ crypto, ...again, parse, now: NOW }).deliveryId).toBe(opened.deliveryId);
    // Buffers are read as UTF-8.
    expect(openCallback({ crypto, query, body: Buffer.from(body), parse, now: NOW }).deliveryId).toBe(opened.deliveryId);
  });

  it.each([['0'], ['99999999999'], [''], ['abc'], ['1e9'], [String(NOW / 1000 - 301)], [String(NOW / 1000 + 301)]])(
    "refuses the query timestamp '%s' as stale, before the parser",
    (timestamp) => {
      const { query, body } = buildEncryptedEnvelope(crypto, ticketXml, { timestamp });
      const { parse, calls } = countingParse();
      expect(reasonOf(() => openCallback({ crypto, query, body, parse, now: NOW }))).toBe('stale');
      expect(calls.n).toBe(0);
    },
  );

  it('accepts timestamps at the edges of the ±300 s window', () => {
    const { parse } = countingParse();
    for (const ts of [NOW / 1000 - 300, NOW / 1000 + 300]) {
      const { query, body } = buildEncryptedEnvelope(crypto, ticketXml, { timestamp: ts });
      expect(openCallback({ crypto, query, body, parse, now: NOW }).timestamp).toBe(ts);
    }
  });

  it('refuses 1 MiB and 5 MiB unsigned bodies by size, strings and Buffers, before the signature and the parser', () => {
    const { parse, calls } = countingParse();
    const query = { msg_signature: 'x'.repeat(40), timestamp: String(NOW / 1000), nonce: '1' };
    for (const size of [MAX_CALLBACK_BODY_BYTES + 1, 5 * 1024 * 1024]) {
      const body = `<xml><Encrypt>${'A'.repeat(size)}</Encrypt></xml>`;
      expect(reasonOf(() => openCallback({ crypto, query, body, parse, now: NOW }))).toBe('length');
      expect(reasonOf(() => openCallback({ crypto, query, body: Buffer.from(body), parse, now: NOW }))).toBe('length');
    }
    // Multi-byte text: the bound is on UTF-8 bytes, not UTF-16 units.
    expect(reasonOf(() => openCallback({ crypto, query, body: '中'.repeat(400_000), parse, now: NOW }))).toBe('length');
    expect(calls.n).toBe(0);
  });

  it('refuses an unsigned body with a DOCTYPE bomb on its signature: no XML is read before', () => {
    const bomb =
      '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' + '<xml><Encrypt>&c;</Encrypt></xml>';
    const { parse, calls } = countingParse();
    const query = { msg_signature: 'f'.repeat(40), timestamp: String(NOW / 1000), nonce: '1' };
    expect(reasonOf(() => openCallback({ crypto, query, body: bomb, parse, now: NOW }))).toBe('signature');
    expect(calls.n).toBe(0);
  });

  it('refuses a signed Encrypt wrapped in a declaration, a repeated Encrypt, none, a parsed object', () => {
    const { query, body } = buildEncryptedEnvelope(crypto, ticketXml, { timestamp: NOW / 1000 });
    const { parse, calls } = countingParse();
    expect(reasonOf(() => openCallback({ crypto, query, body: `<!DOCTYPE x [<!ENTITY e "e">]>${body}`, parse, now: NOW }))).toBe('format');
    expect(reasonOf(() => openCallback({ crypto, query, body: body.replace('</xml>', '<Encrypt>AAAA</Encrypt></xml>'), parse, now: NOW }))).toBe('format');
    expect(reasonOf(() => openCallback({ crypto, query, body: '<xml></xml>', parse, now: NOW }))).toBe('format');
    expect(reasonOf(() => openCallback({ crypto, query, body: { xml: body }, parse, now: NOW }))).toBe('format');
    expect(reasonOf(() => openCallback({ crypto, query: { ...query, msg_signature: [query.msg_signature] as unknown as string }, body, parse, now: NOW }))).toBe('signature');
    expect(calls.n).toBe(0);
  });

  it('refuses a delivery encrypted for another receiver before parsing', () => {
    const other = new WeComCrypto({ token: 'cbToken', encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', receiveId: 'wwother' });
    const { query, body } = buildEncryptedEnvelope(other, ticketXml, { timestamp: NOW / 1000 });
    const { parse, calls } = countingParse();
    expect(reasonOf(() => openCallback({ crypto, query, body, parse, now: NOW }))).toBe('receiver');
    expect(calls.n).toBe(0);
  });
});

describe('openUrlCheck', () => {
  it('answers the decrypted echo of a fresh, signed URL check', () => {
    const query = buildUrlVerification(crypto, '1616140317555161061', { timestamp: NOW / 1000 });
    expect(openUrlCheck({ crypto, query, now: NOW })).toBe('1616140317555161061');
  });

  it("refuses a captured POST's Encrypt replayed as echostr: never answers the decrypted XML", () => {
    const { query, body } = buildEncryptedEnvelope(crypto, ticketXml, { timestamp: NOW / 1000 });
    const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(body)![1];
    const replay = { ...query, echostr: encrypt };
    expect(reasonOf(() => openUrlCheck({ crypto, query: replay, now: NOW }))).toBe('format');
  });

  it('refuses a stale or forged URL check', () => {
    const stale = buildUrlVerification(crypto, '123', { timestamp: NOW / 1000 - 3600 });
    expect(reasonOf(() => openUrlCheck({ crypto, query: stale, now: NOW }))).toBe('stale');
    const forged = { ...buildUrlVerification(crypto, '123', { timestamp: NOW / 1000 }), msg_signature: '0'.repeat(40) };
    expect(reasonOf(() => openUrlCheck({ crypto, query: forged, now: NOW }))).toBe('signature');
  });
});

describe('InProcessDeliveryLedger', () => {
  const id = (n: number) => deliveryIdOf(`delivery ${n}`);

  it('runs a delivery once; a failed one runs again', async () => {
    const ledger = new InProcessDeliveryLedger();
    expect(await ledger.claim(id(1))).toBe('run');
    expect(await ledger.claim(id(1))).toBe('running');
    await ledger.release(id(1));
    expect(await ledger.claim(id(1))).toBe('run');
    await ledger.complete(id(1));
    expect(await ledger.claim(id(1))).toBe('done');
  });

  it('forgets done deliveries after their TTL and stays within its cap', async () => {
    let now = 0;
    const ledger = new InProcessDeliveryLedger(100, () => now);
    await ledger.claim(id(0));
    await ledger.complete(id(0));
    now = 31 * 60_000;
    expect(await ledger.claim(id(0))).toBe('run');
    for (let n = 1; n <= 1000; n += 1) await ledger.claim(id(n));
    expect(ledger.size).toBe(100);
  });

  it('refuses ids that are not sha256 hex (no attacker text in keys)', async () => {
    const ledger = new InProcessDeliveryLedger();
    await expect(ledger.claim('wecom:v1:x\n')).rejects.toThrow(TypeError);
  });
});

describe('SharedDeliveryLedger (cache-manager store + lock)', () => {
  it('two ledgers on one cache and lock act on a delivery once', async () => {
    const cache = createCache();
    const lock = new InProcessTokenLock();
    const a = new SharedDeliveryLedger(cache, lock, 1000);
    const b = new SharedDeliveryLedger(cache, lock, 1000);
    const id = deliveryIdOf('create_auth x');
    expect(await a.claim(id)).toBe('run');
    expect(await b.claim(id)).toBe('running');
    await a.release(id);
    expect(await b.claim(id)).toBe('run');
    await b.complete(id);
    expect(await a.claim(id)).toBe('done');
    expect(await cache.get(`wecom:v1:delivery:${id}`)).toBe('done');
  });

  it('fails the claim (never runs) when the store hangs', async () => {
    const cache = createCache();
    const hanging = { ...cache, get: () => new Promise<never>(() => undefined) } as unknown as typeof cache;
    const ledger = new SharedDeliveryLedger(hanging, new InProcessTokenLock(), 50);
    await expect(ledger.claim(deliveryIdOf('x'))).rejects.toThrow(/did not answer/);
  });

  it.each([
    ['hangs', () => new Promise<never>(() => undefined)],
    ['fails', () => Promise.reject(new Error('READONLY You cannot write against a read only replica.'))],
  ])('keeps the claim when the done mark cannot be written (the store %s): copies are refused, never run again', async (_, failingSet) => {
    const cache = createCache();
    const lock = new InProcessTokenLock();
    const broken = { ...cache, set: failingSet } as unknown as typeof cache;
    const a = new SharedDeliveryLedger(broken, lock, 50);
    const b = new SharedDeliveryLedger(cache, lock, 50);
    const id = deliveryIdOf('create_auth slow store');
    expect(await a.claim(id)).toBe('run');
    await expect(a.complete(id)).rejects.toThrow(/did not answer|READONLY/);
    // Neither a mark nor a free claim: a copy on either ledger is 'running', not 'run'.
    expect(await b.claim(id)).toBe('running');
    expect(await a.claim(id)).toBe('running');
    await a.release(id); // the handle was dropped with the failed mark: releasing again gives nothing back
    expect(await b.claim(id)).toBe('running');
  });
});
