/**
 * The enclave process. Environment (besides what every actor reads, see lib/actor-process.ts):
 *   QUORUM_ENCLAVE_PASSWORD_FILE   a file holding the password that unlocks the enclave key (trimmed). Without
 *                                  it, only a dev-only secrets file's enclavePassword can unlock the key.
 */
import { readFile } from 'node:fs/promises';
import { runStatelessActor } from '../../lib/actor-process.js';
import { startEnclave } from './shell.js';

async function passwordFromFile(): Promise<string | undefined> {
  const file = process.env.QUORUM_ENCLAVE_PASSWORD_FILE;
  if (!file) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read QUORUM_ENCLAVE_PASSWORD_FILE ${file}: ${(err as Error).message}`);
  }
  const password = text.trim();
  if (!password) throw new Error(`QUORUM_ENCLAVE_PASSWORD_FILE ${file} is empty`);
  return password;
}

await runStatelessActor('enclave', async (rt) => {
  const password = await passwordFromFile();
  return startEnclave({ bus: rt.bus, secrets: rt.secrets, log: rt.log, password });
});
