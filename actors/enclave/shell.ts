/**
 * The enclave actor: unlocks its participant's private key, checks it against the published public key, and
 * answers its own tm (the broker lets no one else publish here) on subjects.enclave(scope, verb).
 * Key material and plaintext are never logged; errors carry only public keys and reasons.
 */
import nacl from 'tweetnacl';
import type { Bus } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { ParticipantSecrets } from '../../lib/network/description.js';
import { subjects } from '../../lib/subjects.js';
import { createLocalEnclave, type LocalEnclave } from './local-enclave.js';
import { KeyUnlockError, unlockKey } from './locked-key.js';
import { DecryptRequest, EncryptFromRawRequest, EncryptRawRequest, EncryptRequest, KeysRequest } from './messages.js';

export interface EnclaveDeps {
  bus: Bus;
  secrets: ParticipantSecrets;
  log: Logger;
  /** The unlock password (main.ts reads QUORUM_ENCLAVE_PASSWORD_FILE); default: the dev secrets' enclavePassword. */
  password?: string;
  /** Injected randomness (tests); default a CSPRNG. */
  random?: (n: number) => Uint8Array;
}

export interface RunningEnclave {
  /** The public keys served. */
  publicKeys: string[];
  stop(): Promise<void>;
}

/** Unlocks the participant's enclave key pair and checks it is the one the network description publishes. */
export function unlockEnclaveKey(secrets: ParticipantSecrets, password?: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const pw = password ?? secrets.enclavePassword;
  if (pw === undefined) {
    throw new Error(`no password for the enclave key of ${secrets.participant}: set QUORUM_ENCLAVE_PASSWORD_FILE (or enclavePassword in a dev-only secrets file)`);
  }
  let secretKey: Uint8Array;
  try {
    secretKey = unlockKey(secrets.enclaveKey.locked, pw);
  } catch (err) {
    if (err instanceof KeyUnlockError) throw new KeyUnlockError(`enclave of ${secrets.participant}: ${err.message}`);
    throw err;
  }
  if (secretKey.length !== nacl.box.secretKeyLength) throw new KeyUnlockError(`enclave of ${secrets.participant}: the unlocked key is ${secretKey.length} bytes, expected 32`);
  const publicKey = nacl.box.keyPair.fromSecretKey(secretKey).publicKey;
  const derived = Buffer.from(publicKey).toString('base64');
  if (derived !== secrets.enclaveKey.publicKey) {
    secretKey.fill(0);
    throw new Error(`enclave of ${secrets.participant}: the unlocked private key belongs to ${derived}, not to the configured public key ${secrets.enclaveKey.publicKey}`);
  }
  return { publicKey, secretKey };
}

/** Strict base64 → bytes for a plaintext field (the schema checks the alphabet, this checks the padding). */
function plaintext(b64: string): Uint8Array {
  if (b64.length % 4 !== 0) throw new CodedError(ErrorCode.InvalidInput, 'invalid payload: base64 length is not a multiple of 4');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

export async function startEnclave(deps: EnclaveDeps): Promise<RunningEnclave> {
  const { bus, secrets, log } = deps;
  const pair = unlockEnclaveKey(secrets, deps.password);
  let enclave: LocalEnclave;
  try {
    enclave = createLocalEnclave([pair], { random: deps.random });
  } finally {
    pair.secretKey.fill(0); // the enclave keeps its own copy
  }
  let stopped = false;
  const open = (): LocalEnclave => {
    if (stopped) throw new CodedError(ErrorCode.Unavailable, 'the enclave is stopping');
    return enclave;
  };

  const s = bus.scope;
  const queue = { queue: 'enclave' };
  bus.serve(subjects.enclave(s, 'keys'), KeysRequest, async () => ({ keys: await open().publicKeys() }), queue);
  bus.serve(
    subjects.enclave(s, 'encrypt'),
    EncryptRequest,
    async (req) => ({ encoded: await open().encrypt(plaintext(req.payload), req.sender, req.recipients, req.privacyFlag) }),
    queue,
  );
  bus.serve(subjects.enclave(s, 'encryptRaw'), EncryptRawRequest, async (req) => ({ raw: await open().encryptRaw(plaintext(req.payload), req.sender) }), queue);
  bus.serve(
    subjects.enclave(s, 'encryptFromRaw'),
    EncryptFromRawRequest,
    async (req) => ({ encoded: await open().encryptFromRaw(req.raw, req.recipients, req.privacyFlag) }),
    queue,
  );
  bus.serve(subjects.enclave(s, 'decrypt'), DecryptRequest, async (req) => ({ payload: b64(await open().decrypt(req.encoded, req.key)) }), queue);
  await bus.connection.flush(); // subscriptions are registered with the server before we report ready

  const publicKeys = await enclave.publicKeys();
  log.info('enclave serving', { publicKeys });
  return {
    publicKeys,
    async stop() {
      if (stopped) return;
      stopped = true;
      enclave.close();
      log.info('enclave stopped', {});
    },
  };
}
