// Tools, tool_choice and response_format → Anthropic `tools`, `tool_choice` and `output_config.format`.
//
// JSON modes (docs/providers/anthropic.md, "JSON mode"):
// - json_schema → `output_config.format` (Anthropic's constrained decoding); the answer comes back as text.
// - json_object has no native equivalent (Anthropic's JSON schemas must close every object), so it is
//   emulated with a forced tool whose input is the answer: the response translators turn that tool's input
//   into the message content with finish_reason "stop".
import type { ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import type { AnthropicOutputConfig, AnthropicTool, AnthropicToolChoice } from './wire.js';

/** The forced tool that carries a json_object answer. A client tool with this name is refused. */
export const JSON_TOOL_NAME = 'json_object_response';

const JSON_TOOL: AnthropicTool = {
  name: JSON_TOOL_NAME,
  description: 'Give your complete answer to the user as a JSON object. The input of this tool is the answer.',
  input_schema: { type: 'object' },
};

/** Whether responses to this request carry a json_object answer in the forced tool. */
export function usesJsonTool(request: ChatRequest): boolean {
  return request.response_format?.type === 'json_object';
}

type FunctionTool = NonNullable<ChatRequest['tools']>[number];

function toAnthropicTool(tool: FunctionTool, i: number): AnthropicTool {
  const { name, description, parameters, strict } = tool.function;
  if (parameters !== undefined && parameters.type !== undefined && parameters.type !== 'object') {
    throw new UnifiedError(
      'invalid_request',
      "Tool parameters must be a JSON schema of type 'object' for this model's provider (Anthropic).",
      `tools[${i}].function.parameters`,
    );
  }
  const out: AnthropicTool = {
    name,
    input_schema: parameters === undefined ? { type: 'object', properties: {} } : { ...parameters, type: 'object' },
  };
  if (description !== undefined) out.description = description;
  if (strict === true) out.strict = true;
  return out;
}

interface AllowedTools {
  readonly mode: 'auto' | 'required';
  readonly names: ReadonlySet<string>;
}

/** `{type:"allowed_tools", allowed_tools:{mode, tools:[{type:"function", function:{name}}]}}` (the schema only checks `type`). */
function parseAllowedTools(choice: Record<string, unknown>): AllowedTools {
  const spec = choice.allowed_tools;
  const fail = (): never => {
    throw new UnifiedError(
      'invalid_request',
      "tool_choice 'allowed_tools' needs allowed_tools.mode ('auto' or 'required') and allowed_tools.tools.",
      'tool_choice',
    );
  };
  if (!isRecord(spec) || (spec.mode !== 'auto' && spec.mode !== 'required') || !Array.isArray(spec.tools))
    return fail();
  const names = new Set<string>();
  for (const entry of spec.tools) {
    const name = isRecord(entry) && isRecord(entry.function) ? entry.function.name : undefined;
    if (typeof name !== 'string') return fail();
    names.add(name);
  }
  return { mode: spec.mode, names };
}

export interface ToolFields {
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
}

function withParallel(choice: AnthropicToolChoice, disableParallel: boolean): AnthropicToolChoice {
  return disableParallel && choice.type !== 'none' ? { ...choice, disable_parallel_tool_use: true } : choice;
}

function jsonToolFields(request: ChatRequest, tools: AnthropicTool[]): ToolFields {
  if (tools.length > 0 && request.tool_choice !== 'none') {
    throw new UnifiedError(
      'invalid_request',
      "response_format 'json_object' cannot be combined with callable tools for this model's provider (Anthropic); use response_format 'json_schema', or tool_choice 'none'.",
      'response_format',
    );
  }
  if (tools.some((tool) => tool.name === JSON_TOOL_NAME)) {
    throw new UnifiedError(
      'invalid_request',
      `The tool name '${JSON_TOOL_NAME}' is reserved by the gateway for JSON mode.`,
      'tools',
    );
  }
  // Client tools stay listed (the history may refer to them) but the forced tool is the only one callable.
  return {
    tools: [...tools, JSON_TOOL],
    tool_choice: { type: 'tool', name: JSON_TOOL_NAME, disable_parallel_tool_use: true },
  };
}

export function toolFields(request: ChatRequest): ToolFields {
  let tools = (request.tools ?? []).map(toAnthropicTool);
  if (usesJsonTool(request)) return jsonToolFields(request, tools);
  const choice = request.tool_choice;
  const disableParallel = request.parallel_tool_calls === false;
  if (tools.length === 0) {
    if (choice === undefined || choice === 'auto' || choice === 'none') return {};
    throw new UnifiedError('invalid_request', 'tool_choice requires tools.', 'tool_choice');
  }
  let mapped: AnthropicToolChoice | undefined;
  if (choice === undefined) mapped = disableParallel ? { type: 'auto' } : undefined;
  else if (choice === 'auto') mapped = { type: 'auto' };
  else if (choice === 'required') mapped = { type: 'any' };
  else if (choice === 'none') mapped = { type: 'none' };
  else if (choice.type === 'function') {
    const name = choice.function.name;
    if (!tools.some((tool) => tool.name === name)) {
      throw new UnifiedError(
        'invalid_request',
        `tool_choice names '${name}', which is not in tools.`,
        'tool_choice.function.name',
      );
    }
    mapped = { type: 'tool', name };
  } else {
    // Anthropic has no allowed-tools list: offer only the allowed tools, which is what the model may call anyway.
    const allowed = parseAllowedTools(choice);
    tools = tools.filter((tool) => allowed.names.has(tool.name));
    if (tools.length === 0)
      throw new UnifiedError('invalid_request', 'tool_choice.allowed_tools names none of the tools.', 'tool_choice');
    mapped = { type: allowed.mode === 'required' ? 'any' : 'auto' };
  }
  return mapped === undefined ? { tools } : { tools, tool_choice: withParallel(mapped, disableParallel) };
}

/** response_format json_schema → output_config.format; text and json_object need nothing here. */
export function outputFormat(request: ChatRequest): AnthropicOutputConfig['format'] {
  const format = request.response_format;
  if (format?.type !== 'json_schema') return undefined;
  const schema = format.json_schema.schema;
  if (schema === undefined) {
    throw new UnifiedError(
      'invalid_request',
      "response_format json_schema needs a schema for this model's provider (Anthropic).",
      'response_format.json_schema.schema',
    );
  }
  return { type: 'json_schema', schema };
}
