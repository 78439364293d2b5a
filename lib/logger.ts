/**
 * Structured logger shaped (message, context, error). One JSON line per entry on stdout, so the launcher's
 * per-actor log files can be grepped and parsed. Never pass secrets in context.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>, error?: unknown): void;
  error(message: string, context?: Record<string, unknown>, error?: unknown): void;
  child(bindings: Record<string, unknown>): Logger;
}

function serialiseError(error: unknown): unknown {
  if (error instanceof Error) {
    const coded = error as Error & { code?: unknown };
    return { name: error.name, message: error.message, code: coded.code, stack: error.stack };
  }
  return error;
}

export function createLogger(bindings: Record<string, unknown> = {}, level: LogLevel = (process.env.QUORUM_LOG_LEVEL as LogLevel) || 'info'): Logger {
  const threshold = order[level] ?? order.info;
  const write = (lvl: LogLevel, message: string, context?: Record<string, unknown>, error?: unknown) => {
    if (order[lvl] < threshold) return;
    const entry = { t: new Date().toISOString(), level: lvl, msg: message, ...bindings, ...context, ...(error === undefined ? {} : { error: serialiseError(error) }) };
    process.stdout.write(JSON.stringify(entry, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  };
  return {
    debug: (m, c) => write('debug', m, c),
    info: (m, c) => write('info', m, c),
    warn: (m, c, e) => write('warn', m, c, e),
    error: (m, c, e) => write('error', m, c, e),
    child: (more) => createLogger({ ...bindings, ...more }, level),
  };
}
