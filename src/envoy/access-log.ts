// Envoy's JSON access-log lines, as the code that reads them sees them: a record of unknown values.

/** One access-log line (the generated bootstrap's JSON format), parsed. */
export type AccessLogLine = Readonly<Record<string, unknown>>;

/**
 * A field as text: strings as they are, numbers and booleans printed, a missing (or null: Envoy's "-") field as
 * `absent`, anything else as JSON — never "[object Object]".
 */
export function fieldText(value: unknown, absent = ''): string {
  if (value === undefined || value === null) return absent;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? absent;
}
