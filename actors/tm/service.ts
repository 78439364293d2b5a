/**
 * What the tm does, once, whichever door a request came through (the bus for its gateway, executor and the
 * other tms; Tessera's HTTP API): ask the enclave, store, push, record. The decisions come from decide.ts;
 * this file carries them out in order: persist, then send, then record the acknowledgement.
 */
import type { Bus } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { toHex } from '../../lib/hex.js';
import type { Logger } from '../../lib/logger.js';
import type { Enclave } from '../enclave/enclave.js';
import * as decide from './decide.js';
import { tmEvent } from './events.js';
import { fromRowKey, keyOfPayload, rowKey } from './hash.js';
import type { EncodedPayload, PayloadKey, PrivacyFlag, ReceivedPayload } from './messages.js';
import type { PayloadStore } from './payload-store.js';
import { pushTo, pushToAll } from './push.js';

export interface TmServiceDeps {
  party: decide.PartyInfo;
  net: string;
  bus: Bus;
  enclave: Enclave;
  payloads: PayloadStore;
  log: Logger;
  /** How long a recipient's tm has to ACK a push. */
  pushTimeoutMs: number;
  /** True until this store has recovered what other tms hold for us. */
  isRecovering: () => boolean;
}

/** Run `fn` over `items`, at most `limit` at a time (a resend may cover thousands of payloads). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export type TmService = ReturnType<typeof createTmService>;

export function createTmService(d: TmServiceDeps) {
  const { party, enclave, payloads } = d;
  const target = { bus: d.bus, net: d.net, self: party.self, timeoutMs: d.pushTimeoutMs };

  /** Store a payload we made, push it to every recipient's tm, and return only once each has ACKed. */
  async function share(encoded: EncodedPayload, participants: string[], origin: 'send'): Promise<PayloadKey> {
    const k = keyOfPayload(encoded);
    const stored = tmEvent('PayloadStored', { hash: k.hashHex, origin, sender: party.self, recipients: participants });
    const pushed = participants.length ? [tmEvent('PayloadPushed', { hash: k.hashHex, to: participants })] : [];
    await payloads.put(k.hashHex, encoded, origin, [stored], pushed);
    if (participants.length === 0) return k;
    await pushToAll(target, participants, encoded, k.hashHex, 'send');
    await payloads.record([tmEvent('PushAcknowledged', { hash: k.hashHex, by: participants })]);
    return k;
  }

  async function held(hashHex: string): Promise<EncodedPayload | null> {
    return payloads.get(hashHex);
  }

  return {
    party,

    async send(payload: Uint8Array, from: string | undefined, to: readonly string[], privacyFlag: PrivacyFlag): Promise<PayloadKey> {
      const sender = decide.senderKey(party, from);
      const r = decide.recipients(party, sender, to);
      const encoded = await enclave.encrypt(payload, sender, r.keys, privacyFlag);
      return share(encoded, r.participants, 'send');
    },

    /** Seal for the sender alone and keep it; nothing leaves this tm until sendSigned names recipients. */
    async storeRaw(payload: Uint8Array, from: string | undefined): Promise<PayloadKey> {
      const sender = decide.senderKey(party, from);
      const raw = await enclave.encryptRaw(payload, sender);
      const k = keyOfPayload(raw);
      await payloads.putRaw(k.hashHex, raw, [tmEvent('PayloadStored', { hash: k.hashHex, origin: 'storeraw', sender: party.self, recipients: [] })]);
      return k;
    },

    async sendSigned(hashHex: string, to: readonly string[], privacyFlag: PrivacyFlag): Promise<PayloadKey> {
      const raw = await payloads.getRaw(hashHex);
      if (!raw) throw new CodedError(ErrorCode.NotFound, `no raw payload is stored under hash ${hashHex}`);
      const r = decide.recipients(party, raw.senderKey, to);
      const encoded = await enclave.encryptFromRaw(raw, r.keys, privacyFlag);
      if (rowKey(keyOfPayload(encoded).hashHex) !== rowKey(hashHex)) {
        throw new CodedError(ErrorCode.Internal, 'the enclave re-encrypted the raw payload under a different ciphertext');
      }
      return share(encoded, r.participants, 'send');
    },

    /** Decrypted payloads by hash; `to` (the HTTP API's ?to=) picks the key to decrypt with, ours by default. */
    async receive(hashes: readonly string[], to?: string): Promise<ReceivedPayload[]> {
      const found = await payloads.getMany(hashes);
      return mapLimit(hashes, 32, async (hash): Promise<ReceivedPayload> => {
        const encoded = found.get(fromRowKey(rowKey(hash)));
        if (!encoded) return { hash, ...decide.missingPayload(d.isRecovering()) };
        const key = decide.decryptionKey(party, encoded, to);
        if (!key) return { hash, found: false };
        const plain = await enclave.decrypt(encoded, key);
        return { hash, found: true, payload: toHex(plain), senderKey: encoded.senderKey, recipientKeys: encoded.recipientKeys, privacyFlag: encoded.privacyFlag };
      });
    },

    held,

    /** A push from tm `from` (the subject names it; the broker vouches): check, store once, ACK with the hash. */
    async acceptPush(from: string, encoded: EncodedPayload, reason: 'send' | 'resend'): Promise<string> {
      decide.checkPush(party, from, encoded);
      const k = keyOfPayload(encoded);
      const sender = decide.ownerOf(party, encoded.senderKey);
      const recipients = decide.participantsOf(party, encoded).filter((p) => p !== sender);
      const origin = reason === 'resend' ? 'resend' : 'push';
      const fresh = await payloads.put(k.hashHex, encoded, origin, [tmEvent('PayloadStored', { hash: k.hashHex, origin, sender, recipients })]);
      if (fresh) d.log.debug('payload stored', { hash: k.hashHex, from, origin });
      return k.hashHex;
    },

    /**
     * Tm `from` asks us to push again what names `key`: the payloads go to the key's owner (never in the
     * reply), so asking for someone else's key gains the asker nothing. Returns how many were pushed.
     */
    async resend(from: string, key: string): Promise<number> {
      if (!party.keyOf.has(from)) throw new CodedError(ErrorCode.Rejected, `${from} is not a participant of this network`);
      await payloads.record([tmEvent('ResendRequested', { by: from, key })]);
      const to = decide.resendTarget(party, key);
      if (!to) return 0;
      const selected = decide.resendSelection(key, await payloads.naming(key));
      await mapLimit(selected, 8, (h) => pushTo(target, to, h.encoded, h.hashHex, 'resend'));
      if (selected.length) await payloads.record(selected.map((h) => tmEvent('PayloadResent', { hash: h.hashHex, to })));
      d.log.info('resent payloads', { by: from, to, count: selected.length });
      return selected.length;
    },
  };
}
