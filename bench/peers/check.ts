// What counts as a successful answer on a path of the peers bench: status 200 and the format's closing marker.
import type { Expect } from './ipc.js';

/** Why a response does not count as a success, or undefined when it does. */
export function checkResponse(expect: Expect, stream: boolean, status: number, body: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 300)}`;
  const ok =
    expect === 'openai'
      ? stream
        ? body.trimEnd().endsWith('data: [DONE]')
        : body.includes('"choices"')
      : stream
        ? body.includes('event: message_stop')
        : body.includes('"type":"message"');
  return ok ? undefined : `unexpected ${stream ? 'stream' : 'body'}: ${body.slice(0, 200)} … ${body.slice(-200)}`;
}
