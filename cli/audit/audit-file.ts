/** Writing and reading the audit file (NDJSON, gzip when asked or when the name ends in .gz; detected on read). */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { addRecord, AUDIT_FORMAT, AUDIT_VERSION, emptyAudit, HeaderLine, RecordLine, type AuditData } from './format.js';

/** The input cannot be read as an audit file (exit code 2, unlike a divergence). */
export class UnreadableInput extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnreadableInput';
  }
}

export interface WriteStats {
  lines: number;
  bytes: number;
}

/** Writes the header then every record line; resolves when the file is complete on disk. */
export async function writeAuditFile(file: string, header: HeaderLine, records: AsyncIterable<unknown>, opts: { gzip?: boolean } = {}): Promise<WriteStats> {
  const gzip = opts.gzip ?? file.endsWith('.gz');
  const out = createWriteStream(file, { mode: 0o600 });
  const zip = gzip ? createGzip() : null;
  const sink: Writable = zip ?? out;
  const done = zip ? pipeline(zip, out) : once(out, 'finish');
  let lines = 0;
  let bytes = 0;
  const write = async (value: unknown) => {
    const line = JSON.stringify(value) + '\n';
    lines += 1;
    bytes += Buffer.byteLength(line);
    if (!sink.write(line)) await once(sink, 'drain');
  };
  await write(header);
  for await (const r of records) await write(r);
  sink.end();
  await done;
  return { lines, bytes };
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function explain(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`)
    .join('; ');
}

/** Reads and validates every line; any unreadable line is an UnreadableInput naming its line number. */
export async function readAuditFile(file: string): Promise<AuditData> {
  let input: Readable;
  try {
    const gzip = await isGzip(file);
    input = createReadStream(file);
    if (gzip) input = input.pipe(createGunzip());
  } catch (err) {
    throw new UnreadableInput(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  let data: AuditData | undefined;
  let n = 0;
  try {
    for await (const text of lines) {
      n += 1;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new UnreadableInput(`${file} line ${n}: not JSON (${(err as Error).message})`);
      }
      if (!data) {
        const head = z.object({ kind: z.literal('header'), format: z.string(), version: z.number() }).safeParse(value);
        if (!head.success || head.data.format !== AUDIT_FORMAT) throw new UnreadableInput(`${file} line 1: not a ${AUDIT_FORMAT} file (no header line)`);
        if (head.data.version !== AUDIT_VERSION) throw new UnreadableInput(`${file}: format version ${head.data.version}, this replay reads version ${AUDIT_VERSION}`);
        const header = HeaderLine.safeParse(value);
        if (!header.success) throw new UnreadableInput(`${file} line 1: bad header: ${explain(header.error)}`);
        data = emptyAudit(header.data);
        continue;
      }
      if (data.end) throw new UnreadableInput(`${file} line ${n}: a line after the end line`);
      const rec = RecordLine.safeParse(value);
      if (!rec.success) throw new UnreadableInput(`${file} line ${n}: ${explain(rec.error)}`);
      addRecord(data, rec.data);
    }
  } catch (err) {
    if (err instanceof UnreadableInput) throw err;
    throw new UnreadableInput(`cannot read ${file}${n ? ` (at line ${n})` : ''}: ${(err as Error).message}`, { cause: err });
  }
  if (!data) throw new UnreadableInput(`${file} is empty`);
  if (!data.end) throw new UnreadableInput(`${file} ends without its end line after line ${n}: the file is truncated`);
  return data;
}
