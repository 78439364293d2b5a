/**
 * Following the network description while running: the permission list (`participants`) may change under a
 * running network (the admin's permit/revoke), and whoever acts on it — the launcher, an actor's membership —
 * watches the file rather than being told.
 *
 * The directory is watched, not the file: network.json is replaced by rename (atomic), which a watch on the
 * old inode would not follow. Events are debounced, the file re-read and validated (zod + checkNetwork);
 * anything unreadable or invalid (a hand edit in progress) is ignored until it becomes valid again.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { NetworkDescription } from './description.js';
import { checkNetwork, loadNetwork } from './load.js';

/** The environment variable through which the launcher (and docker-compose) tell each actor where network.json is. */
const NETWORK_FILE_ENV = 'QUORUM_NETWORK';

/** The network description file of this actor process (QUORUM_NETWORK), e.g. to pass to watchNetworkFile. */
export function networkFileOf(env: NodeJS.ProcessEnv = process.env): string {
  const file = env[NETWORK_FILE_ENV];
  if (!file) throw new Error(`environment variable ${NETWORK_FILE_ENV} is required`);
  return file;
}

export interface WatchNetworkOptions {
  /** Quiet time after the last change before the file is read. Default 100 ms. */
  debounceMs?: number;
  /** Called with why a changed file was not accepted (invalid JSON, schema, duplicate ids...). Default: ignored. */
  onInvalid?: (err: Error) => void;
}

export interface NetworkWatch {
  close(): void;
}

/** The text that decides "changed": the validated description, so formatting-only edits are not a change. */
const canonical = (network: NetworkDescription) => JSON.stringify(network);

/**
 * Calls `onChange` with the new description each time `file` changes to a valid description whose content
 * differs from the last one seen (the content at the time of the call is the starting point, not reported).
 * Calls are serialised: a change seen while `onChange` is still running (async) is reported after it returns.
 */
export function watchNetworkFile(
  file: string,
  onChange: (description: NetworkDescription) => void | Promise<void>,
  opts: WatchNetworkOptions = {},
): NetworkWatch {
  const abs = path.resolve(file);
  const name = path.basename(abs);
  const debounceMs = opts.debounceMs ?? 100;
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  const check = async () => {
    let next: NetworkDescription;
    try {
      next = await loadNetwork(abs);
    } catch (err) {
      if (!closed) opts.onInvalid?.(err as Error);
      return;
    }
    const text = canonical(next);
    if (closed || text === last) return;
    last = text;
    try {
      await onChange(next);
    } catch (err) {
      opts.onInvalid?.(err as Error);
    }
  };

  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      running = running.then(check);
    }, debounceMs);
  };

  const watcher: FSWatcher = watch(path.dirname(abs), { persistent: false }, (_event, changed) => {
    // Some platforms do not say which file changed; then any change in the directory is worth a look.
    if (changed === null || changed === name) schedule();
  });
  watcher.on('error', (err) => opts.onInvalid?.(err));
  // Read after the watch is in place: a change from here on raises an event, so none is lost in between.
  last = initialContent(abs);

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}

/**
 * The canonical text of the file as it is now (synchronously, so it is the starting point before any event is
 * handled). Missing or invalid: undefined, so the first valid content counts as a change.
 */
function initialContent(file: string): string | undefined {
  try {
    const parsed = NetworkDescription.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) return undefined;
    checkNetwork(parsed.data);
    return canonical(parsed.data);
  } catch {
    return undefined;
  }
}
