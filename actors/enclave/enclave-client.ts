/**
 * The Enclave interface over the bus: the tm's way to reach its own participant's enclave. Bytes travel as
 * base64; the enclave's refusals come back as the same CodedErrors the local enclave throws.
 */
import type { Bus } from '../../lib/bus.js';
import { subjects } from '../../lib/subjects.js';
import type { Enclave } from './enclave.js';
import {
  DecryptReply,
  EncryptFromRawReply,
  EncryptRawReply,
  EncryptReply,
  KeysReply,
  type EncodedPayload,
  type PrivacyFlag,
  type RawPayload,
} from './messages.js';

export interface EnclaveClientOptions {
  /** Per request. Default: the bus default (5 s). */
  timeoutMs?: number;
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export function createEnclaveClient(bus: Bus, opts: EnclaveClientOptions = {}): Enclave {
  const ask = opts.timeoutMs === undefined ? undefined : { timeoutMs: opts.timeoutMs };
  const at = (verb: Parameters<typeof subjects.enclave>[1]) => subjects.enclave(bus.scope, verb);
  return {
    async publicKeys() {
      return (await bus.request(at('keys'), {}, KeysReply, ask)).keys;
    },
    async encrypt(payload: Uint8Array, sender: string, recipients: string[], privacyFlag: PrivacyFlag): Promise<EncodedPayload> {
      return (await bus.request(at('encrypt'), { payload: b64(payload), sender, recipients, privacyFlag }, EncryptReply, ask)).encoded;
    },
    async encryptRaw(payload: Uint8Array, sender: string): Promise<RawPayload> {
      return (await bus.request(at('encryptRaw'), { payload: b64(payload), sender }, EncryptRawReply, ask)).raw;
    },
    async encryptFromRaw(raw: RawPayload, recipients: string[], privacyFlag: PrivacyFlag): Promise<EncodedPayload> {
      return (await bus.request(at('encryptFromRaw'), { raw, recipients, privacyFlag }, EncryptFromRawReply, ask)).encoded;
    },
    async decrypt(encoded: EncodedPayload, key: string): Promise<Uint8Array> {
      return unb64((await bus.request(at('decrypt'), { encoded, key }, DecryptReply, ask)).payload);
    },
  };
}
