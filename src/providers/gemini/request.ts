// The unified request as a Gemini generateContent body. Pure; throws a 400 UnifiedError naming any field whose
// meaning Gemini cannot honour, so the router stage refuses the request before anything leaves.
import type { ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import { toConversation } from './messages.js';
import type { FunctionDeclaration, GenerateContentRequest, GenerationConfig, ToolConfig } from './wire.js';

/** Fields that would change the answer and have no Gemini equivalent here: refused, never dropped. */
function refuseUnsupported(request: ChatRequest): void {
  const refuse = (param: string, why: string) => {
    throw new UnifiedError('invalid_request', `'${param}' is not supported by Gemini backends: ${why}`, param);
  };
  if (request.logprobs === true) refuse('logprobs', 'token log probabilities are not translated.');
  if (request.top_logprobs !== undefined && request.top_logprobs !== null) refuse('top_logprobs', 'token log probabilities are not translated.');
  if (isRecord(request.logit_bias) && Object.keys(request.logit_bias).length > 0) refuse('logit_bias', 'Gemini has no token bias.');
  if (request.audio !== undefined && request.audio !== null) refuse('audio', 'audio output is not translated.');
  if (Array.isArray(request.modalities) && request.modalities.some((m) => m !== 'text')) refuse('modalities', 'only text output is translated.');
  if (request.prediction !== undefined && request.prediction !== null) refuse('prediction', 'Gemini has no predicted outputs.');
  if (request.web_search_options !== undefined) refuse('web_search_options', 'web search is not translated.');
  if (request.functions !== undefined) refuse('functions', 'use tools instead of the deprecated functions.');
  if (request.function_call !== undefined) refuse('function_call', 'use tool_choice instead of the deprecated function_call.');
}

function generationConfig(request: ChatRequest): GenerationConfig | undefined {
  const config: GenerationConfig = {};
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  // max_completion_tokens is the current name and also bounds reasoning, as maxOutputTokens does on Gemini.
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  if (request.stop != null) config.stopSequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.n != null) config.candidateCount = request.n;
  if (request.seed != null) config.seed = request.seed;
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty;
  const format = request.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema;
  }
  return Object.keys(config).length > 0 ? config : undefined;
}

/** Gemini function names must start with a letter or underscore; OpenAI also allows a digit or dash. */
const GEMINI_FUNCTION_NAME = /^[A-Za-z_]/;

function declarations(request: ChatRequest): FunctionDeclaration[] {
  return (request.tools ?? []).map((tool, i) => {
    const { name, description, parameters } = tool.function;
    if (!GEMINI_FUNCTION_NAME.test(name)) {
      throw new UnifiedError('invalid_request', `Gemini function names must start with a letter or an underscore ('${name}').`, `tools[${i}].function.name`);
    }
    const declaration: FunctionDeclaration = { name };
    if (description !== undefined) declaration.description = description;
    if (parameters !== undefined) declaration.parametersJsonSchema = parameters;
    return declaration;
  });
}

/** The names of an allowed_tools choice: {type:'allowed_tools', allowed_tools:{mode, tools:[{type:'function', function:{name}}]}}. */
function allowedToolNames(choice: Record<string, unknown>): { mode: 'auto' | 'required'; names: string[] } {
  const allowed = choice.allowed_tools;
  const invalid = () => new UnifiedError('invalid_request', "'tool_choice.allowed_tools' needs a mode (auto or required) and function tools.", 'tool_choice.allowed_tools');
  if (!isRecord(allowed) || (allowed.mode !== 'auto' && allowed.mode !== 'required') || !Array.isArray(allowed.tools)) throw invalid();
  const names = allowed.tools.map((tool) => {
    const name = isRecord(tool) && isRecord(tool.function) ? tool.function.name : undefined;
    if (typeof name !== 'string') throw invalid();
    return name;
  });
  return { mode: allowed.mode, names };
}

interface ToolSetup {
  declarations: FunctionDeclaration[];
  toolConfig?: ToolConfig;
}

function toolSetup(request: ChatRequest): ToolSetup {
  const all = declarations(request);
  const choice = request.tool_choice;
  if (choice !== undefined && all.length === 0) {
    throw new UnifiedError('invalid_request', "'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice');
  }
  const known = (name: string) => {
    if (!all.some((d) => d.name === name)) {
      throw new UnifiedError('invalid_request', `'tool_choice' names '${name}', which is not among the tools.`, 'tool_choice');
    }
  };
  if (choice === undefined || choice === 'auto') return { declarations: all };
  if (choice === 'none') return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'NONE' } } };
  if (choice === 'required') return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'ANY' } } };
  if (choice.type === 'function') {
    known(choice.function.name);
    return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } } };
  }
  const { mode, names } = allowedToolNames(choice);
  names.forEach(known);
  // Gemini takes allowedFunctionNames only with ANY; for auto the other declarations are withheld instead.
  if (mode === 'required') return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: names } } };
  return { declarations: all.filter((d) => names.includes(d.name)) };
}

export function toGeminiRequest(request: ChatRequest): GenerateContentRequest {
  refuseUnsupported(request);
  const body: GenerateContentRequest = toConversation(request.messages);
  const config = generationConfig(request);
  if (config) body.generationConfig = config;
  const tools = toolSetup(request);
  if (tools.declarations.length > 0) body.tools = [{ functionDeclarations: tools.declarations }];
  if (tools.toolConfig) body.toolConfig = tools.toolConfig;
  return body;
}
