// OpenAI messages → Gemini contents + systemInstruction. Gemini has two roles (user, model), a separate system
// instruction, and function results as user-side parts that name the function rather than the call id.
import type { ChatMessage } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord, parseJson } from '../../util/json.js';
import { filePart, imageUrlPart, inputAudioPart } from './media.js';
import { signatureFromToolCallId } from './tool-ids.js';
import type {
  Content,
  FunctionCallPart,
  FunctionResponsePart,
  RequestPart,
  Role,
  SystemInstruction,
  TextPart,
} from './wire.js';

export interface Conversation {
  contents: Content[];
  systemInstruction?: SystemInstruction;
}

type Message<R extends ChatMessage['role']> = Extract<ChatMessage, { role: R }>;

/** Gemini rejects empty text parts ("empty text parameter"), and a blank one carries nothing: both are left out. */
function hasText(text: unknown): text is string {
  return typeof text === 'string' && text.trim() !== '';
}

function textParts(content: string | ReadonlyArray<{ type: string; text?: unknown; refusal?: unknown }>): TextPart[] {
  if (typeof content === 'string') return hasText(content) ? [{ text: content }] : [];
  const parts: TextPart[] = [];
  for (const part of content) {
    // Assistant history may hold refusal parts: what the model said, so it stays in the transcript.
    const text = part.type === 'refusal' ? part.refusal : part.text;
    if (hasText(text)) parts.push({ text });
  }
  return parts;
}

function userParts(message: Message<'user'>, param: string): RequestPart[] {
  if (typeof message.content === 'string') return textParts(message.content);
  const parts: RequestPart[] = [];
  message.content.forEach((part, j) => {
    const at = `${param}.content[${j}]`;
    switch (part.type) {
      case 'text':
        if (hasText(part.text)) parts.push({ text: part.text });
        break;
      case 'image_url':
        parts.push(imageUrlPart(part.image_url.url, `${at}.image_url.url`));
        break;
      case 'input_audio':
        parts.push(inputAudioPart(part.input_audio, `${at}.input_audio`));
        break;
      case 'file':
        parts.push(filePart(part.file, `${at}.file`));
        break;
    }
  });
  return parts;
}

/** Gemini wants arguments as an object; OpenAI carries them as a JSON string. */
function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const args = parseJson(text);
  if (!isRecord(args))
    throw new UnifiedError('invalid_request', `'${param}' must be a JSON object for Gemini backends.`, param);
  return args;
}

function functionCallPart(name: string, args: Record<string, unknown>, id: string | undefined): FunctionCallPart {
  const signature = id === undefined ? undefined : signatureFromToolCallId(id);
  return signature ? { functionCall: { name, args }, thoughtSignature: signature } : { functionCall: { name, args } };
}

function assistantParts(message: Message<'assistant'>, param: string, names: Map<string, string>): RequestPart[] {
  const parts: RequestPart[] = message.content ? textParts(message.content) : [];
  message.tool_calls?.forEach((call, j) => {
    names.set(call.id, call.function.name);
    const args = parseArguments(call.function.arguments, `${param}.tool_calls[${j}].function.arguments`);
    parts.push(functionCallPart(call.function.name, args, call.id));
  });
  // The deprecated single function_call of older clients' history.
  const legacy = message.function_call;
  if (isRecord(legacy) && typeof legacy.name === 'string' && typeof legacy.arguments === 'string') {
    parts.push(
      functionCallPart(legacy.name, parseArguments(legacy.arguments, `${param}.function_call.arguments`), undefined),
    );
  }
  return parts;
}

/** A function response must be an object: JSON objects go as they are, anything else is wrapped as text. */
function functionResponse(name: string, content: string): FunctionResponsePart {
  const json = parseJson(content);
  return { functionResponse: { name, response: isRecord(json) ? json : { content } } };
}

function joinedText(content: string | ReadonlyArray<{ text: string }>): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/** Appends a turn, merging it into the previous one when the role repeats (Gemini wants alternation). */
function pushTurn(contents: Content[], role: Role, parts: RequestPart[]): void {
  if (parts.length === 0) return;
  const last = contents.at(-1);
  if (last?.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

/** Where a tool call stands: its assistant message and its position among that message's calls. */
interface CallPosition {
  readonly message: number;
  readonly index: number;
}

/**
 * Gemini pairs function responses with the calls of the previous model turn by position, not by id. Clients may
 * send the results of parallel calls in any order (OpenAI pairs them by tool_call_id), so a run of consecutive
 * tool messages is put back into the order of the calls before it reaches Gemini.
 */
class PendingResults {
  #results: Array<{ position: CallPosition; arrival: number; part: FunctionResponsePart }> = [];

  add(position: CallPosition, part: FunctionResponsePart): void {
    this.#results.push({ position, arrival: this.#results.length, part });
  }

  flush(contents: Content[]): void {
    if (this.#results.length === 0) return;
    const ordered = [...this.#results].sort(
      (a, b) => a.position.message - b.position.message || a.position.index - b.position.index || a.arrival - b.arrival,
    );
    this.#results = [];
    pushTurn(
      contents,
      'user',
      ordered.map((r) => r.part),
    );
  }
}

export function toConversation(messages: readonly ChatMessage[]): Conversation {
  const contents: Content[] = [];
  const system: TextPart[] = [];
  // tool_call_id → function name, from the assistant turns seen so far (a later turn may reuse an id).
  const names = new Map<string, string>();
  // tool_call_id → where the call stands, to deliver results in call order.
  const positions = new Map<string, CallPosition>();
  const pending = new PendingResults();
  messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    if (message.role !== 'tool') pending.flush(contents);
    if (message.role === 'assistant')
      message.tool_calls?.forEach((call, j) => positions.set(call.id, { message: i, index: j }));
    switch (message.role) {
      case 'system':
      case 'developer':
        // Gemini has one system instruction: every system and developer message joins it, in order.
        system.push(...textParts(message.content));
        break;
      case 'user':
        pushTurn(contents, 'user', userParts(message, param));
        break;
      case 'assistant':
        pushTurn(contents, 'model', assistantParts(message, param, names));
        break;
      case 'tool': {
        const name = names.get(message.tool_call_id);
        if (name === undefined) {
          throw new UnifiedError(
            'invalid_request',
            `'${param}.tool_call_id' (${message.tool_call_id}) does not match a tool call of an earlier assistant message.`,
            `${param}.tool_call_id`,
          );
        }
        pending.add(
          positions.get(message.tool_call_id) ?? { message: i, index: 0 },
          functionResponse(name, joinedText(message.content)),
        );
        break;
      }
      case 'function':
        pushTurn(contents, 'user', [functionResponse(message.name, message.content ?? '')]);
        break;
    }
  });
  pending.flush(contents);
  if (contents.length === 0) {
    throw new UnifiedError(
      'invalid_request',
      'Gemini backends need at least one non-empty user or assistant message besides system messages.',
      'messages',
    );
  }
  return system.length > 0 ? { contents, systemInstruction: { parts: system } } : { contents };
}
