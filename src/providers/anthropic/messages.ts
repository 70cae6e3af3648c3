// OpenAI messages → Anthropic `system` + alternating user/assistant turns.
//
// Rules (docs/providers/anthropic.md, "Conversation"):
// - system and developer messages, wherever they stand, become the top-level `system` blocks, in order;
// - tool messages become `tool_result` blocks in a user turn; consecutive same-role turns are merged into one,
//   with tool results first in their turn (Anthropic requires that);
// - the conversation must open with a user turn: a placeholder user turn is prepended when it does not;
// - a final assistant message is an Anthropic prefill: the model continues it. Its trailing whitespace is
//   removed because Anthropic rejects a prefill that ends in whitespace.
import type { ChatMessage } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord, parseJson } from '../../util/json.js';
import { hasText, textBlocks, userBlocks } from './content.js';
import type {
  AnthropicAssistantBlock,
  AnthropicTextBlock,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
  AnthropicTurn,
  AnthropicUserBlock,
} from './wire.js';

/** Text of the user turn put first when a conversation does not start with one (same choice as LiteLLM). */
export const PLACEHOLDER_USER_TEXT = '.';

export interface Conversation {
  readonly system: AnthropicTextBlock[];
  readonly turns: AnthropicTurn[];
}

/** Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; ids minted elsewhere are made to fit, the same way on both sides. */
export function anthropicToolId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function toolArguments(text: string, param: string): Record<string, unknown> {
  // Some clients send "" for a call without arguments.
  if (text.trim() === '') return {};
  const value = parseJson(text);
  if (!isRecord(value))
    throw new UnifiedError('invalid_request', 'Tool call arguments must be a JSON object encoded as a string.', param);
  return value;
}

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;
type ToolMessage = Extract<ChatMessage, { role: 'tool' }>;

function assistantBlocks(message: AssistantMessage, param: string): AnthropicAssistantBlock[] {
  const blocks: AnthropicAssistantBlock[] = [];
  const content = message.content;
  if (typeof content === 'string') blocks.push(...textBlocks(content));
  else if (Array.isArray(content)) {
    // A refusal the assistant gave earlier is part of what it said.
    for (const part of content) {
      const text = part.type === 'text' ? part.text : part.refusal;
      if (hasText(text)) blocks.push({ type: 'text', text });
    }
  }
  message.tool_calls?.forEach((call, j) => {
    const block: AnthropicToolUseBlock = {
      type: 'tool_use',
      id: anthropicToolId(call.id),
      name: call.function.name,
      input: toolArguments(call.function.arguments, `${param}.tool_calls[${j}].function.arguments`),
    };
    blocks.push(block);
  });
  return blocks;
}

function toolResultBlock(message: ToolMessage): AnthropicToolResultBlock {
  const block: AnthropicToolResultBlock = { type: 'tool_result', tool_use_id: anthropicToolId(message.tool_call_id) };
  if (typeof message.content === 'string') {
    if (message.content !== '') block.content = message.content;
  } else {
    const blocks = textBlocks(message.content);
    if (blocks.length > 0) block.content = blocks;
  }
  return block;
}

function appendUser(turns: AnthropicTurn[], blocks: AnthropicUserBlock[]): void {
  if (blocks.length === 0) return;
  const last = turns.at(-1);
  if (last?.role === 'user') last.content.push(...blocks);
  else turns.push({ role: 'user', content: blocks });
}

function appendAssistant(turns: AnthropicTurn[], blocks: AnthropicAssistantBlock[]): void {
  if (blocks.length === 0) return;
  const last = turns.at(-1);
  if (last?.role === 'assistant') last.content.push(...blocks);
  else turns.push({ role: 'assistant', content: blocks });
}

/** Tool results first within each user turn, everything else in its original order. */
function toolResultsFirst(turn: AnthropicTurn): void {
  if (turn.role !== 'user') return;
  const results = turn.content.filter((b) => b.type === 'tool_result');
  if (results.length === 0) return;
  turn.content = [...results, ...turn.content.filter((b) => b.type !== 'tool_result')];
}

function trimPrefill(turns: AnthropicTurn[]): void {
  const last = turns.at(-1);
  if (last?.role !== 'assistant') return;
  const block = last.content.at(-1);
  if (block?.type !== 'text') return;
  block.text = block.text.trimEnd();
}

export function toConversation(messages: readonly ChatMessage[]): Conversation {
  const system: AnthropicTextBlock[] = [];
  const turns: AnthropicTurn[] = [];
  messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(message.content));
        break;
      case 'user':
        appendUser(turns, userBlocks(message.content, `${param}.content`));
        break;
      case 'assistant':
        appendAssistant(turns, assistantBlocks(message, param));
        break;
      case 'tool':
        appendUser(turns, [toolResultBlock(message)]);
        break;
      case 'function':
        throw new UnifiedError(
          'invalid_request',
          "The deprecated 'function' role is not supported for this model's provider (Anthropic); use tool_calls and 'tool' messages.",
          `${param}.role`,
        );
    }
  });
  if (turns[0]?.role !== 'user')
    turns.unshift({ role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] });
  turns.forEach(toolResultsFirst);
  trimPrefill(turns);
  return { system, turns };
}
