// Mock-upstream child of the peers bench: the test suite's mock OpenAI (Chat Completions, JSON and SSE) and mock
// Anthropic (Messages, JSON and SSE) on loopback, in a process of their own so that their CPU is measured apart.
// Usage (by bench/peers.ts only): node dist/bench/peers/mock.js <openai-stream-chunks> <anthropic-api-key>
import { startMockAnthropic } from '../../test/support/mock-anthropic.js';
import { startMockOpenAI } from '../../test/support/mock-openai.js';
import type { FromMock } from './ipc.js';

function send(message: FromMock): void {
  if (!process.send) throw new Error('bench/peers/mock.js must be started by bench/peers.js (no IPC channel)');
  process.send(message);
}

async function main(): Promise<void> {
  const contentChunks = Number(process.argv[2] ?? '48');
  const anthropicKey = process.argv[3] ?? 'sk-ant-bench';
  const openai = await startMockOpenAI();
  // role chunk + content chunks + finish chunk (+ [DONE]): ~50 SSE events per streamed answer.
  openai.streamChunks = contentChunks;
  const anthropic = await startMockAnthropic({ apiKey: anthropicKey });
  // The mocks record every request for tests; a bench sends hundreds of thousands: forget them.
  setInterval(() => {
    openai.received.splice(0);
    anthropic.received.splice(0);
  }, 500).unref();
  send({
    type: 'ready',
    openaiPort: Number(new URL(openai.baseUrl).port),
    anthropicPort: Number(new URL(anthropic.baseUrl).port),
  });
}

process.on('disconnect', () => process.exit(0)); // the orchestrator is gone: never linger
main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
});
