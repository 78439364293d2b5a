/** Replacing a file so that readers (a watcher, an actor starting up) see the old or the new content, never half. */
import { rename, rm, writeFile } from 'node:fs/promises';

async function writeFileAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  // Same directory as the target: rename is atomic only within one file system.
  const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, text, { mode });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export const writeJsonAtomic = (file: string, value: unknown, mode?: number) => writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', mode);
