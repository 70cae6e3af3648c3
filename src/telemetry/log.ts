// Structured JSON logs on stderr. Callers pass plain fields; secrets are wrapped in Secret and print redacted.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in RANK;
}

const fromEnv = process.env.LLM_EXTPROC_LOG_LEVEL;
let threshold: LogLevel = isLogLevel(fromEnv) ? fromEnv : 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

function write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (RANK[level] < RANK[threshold]) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  process.stderr.write(line + '\n');
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
