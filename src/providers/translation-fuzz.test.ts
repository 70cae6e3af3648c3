// Whatever a provider sends back — truncated JSON, wrong types, binary noise, odd chunk boundaries — its
// translator answers in the unified shape and never throws (a throw would leave the client untranslated bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderKind } from './apis.js';
import { mulberry32 } from '../testing/random.js';
import { parseChatRequest } from '../unified/chat-request.js';
import { providerFor } from './registry.js';

const KINDS: ProviderKind[] = [
  'openai',
  'openai-compatible',
  'azure-openai',
  'anthropic',
  'gemini',
  'vertex',
  'bedrock',
  'cohere',
];
const CONTEXT = {
  request: parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true })),
  clientWantsUsage: true,
  requestId: 'req-fuzz',
  created: 1_700_000_000,
};

/** Plausible provider payloads, then damaged. */
const SEEDS = [
  '{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}',
  '{"type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}',
  '{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1}}',
  '{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1}}',
  '{"message":{"role":"assistant","content":[{"type":"text","text":"hi"}]},"finish_reason":"COMPLETE"}',
  'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n',
  'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{"}}]}}]}\n\n',
  '{"error":{"message":"boom"}}',
];

function damage(text: string, random: () => number): Buffer {
  const bytes = Buffer.from(text);
  const out = Buffer.from(bytes);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) out[Math.floor(random() * out.length)] = Math.floor(random() * 256);
  return random() < 0.3 ? out.subarray(0, Math.floor(random() * out.length)) : out;
}

test('whole responses: damaged payloads at any status never throw, and errors come out OpenAI-shaped', () => {
  const random = mulberry32(7);
  for (const kind of KINDS) {
    const provider = providerFor(kind);
    for (let i = 0; i < 300; i++) {
      const status = [200, 200, 400, 429, 500, 529][i % 6]!;
      const body = damage(SEEDS[i % SEEDS.length]!, random);
      const out = provider.translateResponse(status, body, CONTEXT);
      if (out.body !== undefined && (out.status ?? status) >= 400) {
        const json = JSON.parse(out.body.toString()) as { error?: { message?: unknown } };
        assert.equal(typeof json.error?.message, 'string', `${kind} ${status}: ${out.body.toString().slice(0, 200)}`);
      }
    }
  }
});

test('streams: damaged and random bytes, cut anywhere, never throw', () => {
  const random = mulberry32(11);
  for (const kind of KINDS) {
    const provider = providerFor(kind);
    for (let i = 0; i < 100; i++) {
      const translator = provider.createStreamTranslator(CONTEXT);
      const bytes = Buffer.concat([
        damage(SEEDS[i % SEEDS.length]!, random),
        Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))),
      ]);
      let from = 0;
      while (from < bytes.length) {
        const to = Math.min(bytes.length, from + 1 + Math.floor(random() * 40));
        assert.doesNotThrow(() => translator.push(bytes.subarray(from, to)), kind);
        from = to;
      }
      assert.doesNotThrow(() => translator.end(), kind);
    }
  }
});
