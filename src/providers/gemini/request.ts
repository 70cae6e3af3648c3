// The unified request as a Gemini generateContent body. Pure; throws a 400 UnifiedError naming any field whose
// meaning Gemini cannot honour, so the router stage refuses the request before anything leaves.
import type { ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import { topK } from '../extra-fields.js';
import { credentialHeaders } from '../http.js';
import type { UpstreamRequest, UpstreamTarget } from '../provider.js';
import { geminiResource, methodFor, methodPath } from './endpoint.js';
import { toConversation } from './messages.js';
import type { FunctionDeclaration, GenerateContentRequest, GenerationConfig, ToolConfig } from './wire.js';

/** Fields that would change the answer and have no Gemini equivalent here: refused, never dropped. */
function refuseUnsupported(request: ChatRequest): void {
  const refuse = (param: string, why: string) => {
    throw new UnifiedError('invalid_request', `'${param}' is not supported by Gemini backends: ${why}`, param);
  };
  if (request.top_logprobs != null && request.logprobs !== true)
    refuse('top_logprobs', "it needs 'logprobs: true' (as on OpenAI).");
  if (isRecord(request.logit_bias) && Object.keys(request.logit_bias).length > 0)
    refuse('logit_bias', 'Gemini has no token bias.');
  if (request.audio !== undefined && request.audio !== null) refuse('audio', 'audio output is not translated.');
  if (Array.isArray(request.modalities) && request.modalities.some((m) => m !== 'text'))
    refuse('modalities', 'only text output is translated.');
  if (request.prediction !== undefined && request.prediction !== null)
    refuse('prediction', 'Gemini has no predicted outputs.');
  if (request.web_search_options !== undefined) refuse('web_search_options', 'web search is not translated.');
  if (request.functions !== undefined) refuse('functions', 'use tools instead of the deprecated functions.');
  if (request.function_call !== undefined)
    refuse('function_call', 'use tool_choice instead of the deprecated function_call.');
}

/** OpenAI's top_logprobs runs 0–20; Gemini's `logprobs` (alternatives per token) 0–20 as well (1–20 when set). */
const MAX_TOP_LOGPROBS = 20;

/** Gemini 2.5 thinking budgets (tokens) for OpenAI's effort levels; `none` is 0 (off where the model allows it). */
const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 32768,
};
/** Gemini 3 thinking levels; it cannot switch thinking off, so `none` is the lowest level. */
const THINKING_LEVELS: Readonly<Record<string, 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH'>> = {
  none: 'MINIMAL',
  minimal: 'MINIMAL',
  low: 'LOW',
  medium: 'MEDIUM',
  high: 'HIGH',
  xhigh: 'HIGH',
};

/** The Gemini generation a model name belongs to (`gemini-3-pro-preview` → 3, `gemini-2.5-flash` → 2.5). */
export function geminiGeneration(model: string): number | undefined {
  const match = /(?:^|\/)gemini-(\d+(?:\.\d+)?)/.exec(model);
  return match ? Number(match[1]) : undefined;
}

/** reasoning_effort → thinkingConfig by model generation: thinkingLevel on Gemini 3+, thinkingBudget on 2.5. */
function thinkingConfig(request: ChatRequest, model: string | undefined): GenerationConfig['thinkingConfig'] {
  const effort = request.reasoning_effort;
  if (effort == null) return undefined;
  if (typeof effort !== 'string' || THINKING_BUDGETS[effort] === undefined) {
    throw new UnifiedError(
      'invalid_request',
      `'reasoning_effort' ${JSON.stringify(effort)} is not supported by Gemini backends.`,
      'reasoning_effort',
    );
  }
  if (model === undefined) return undefined; // checked again per attempt, with the model
  const generation = geminiGeneration(model);
  if (generation !== undefined && generation >= 3) return { thinkingLevel: THINKING_LEVELS[effort] };
  if (generation !== undefined && generation >= 2.5) return { thinkingBudget: THINKING_BUDGETS[effort] };
  throw new UnifiedError(
    'invalid_request',
    `'reasoning_effort' needs a Gemini 2.5 or later model; '${model ?? 'this model'}' is not one the gateway knows to think.`,
    'reasoning_effort',
  );
}

function generationConfig(request: ChatRequest, model: string | undefined): GenerationConfig | undefined {
  const config: GenerationConfig = {};
  const k = topK(request);
  if (k !== undefined) config.topK = k;
  if (request.logprobs === true) {
    config.responseLogprobs = true;
    const top = request.top_logprobs;
    if (top != null) {
      if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > MAX_TOP_LOGPROBS) {
        throw new UnifiedError(
          'invalid_request',
          `'top_logprobs' must be an integer from 0 to ${MAX_TOP_LOGPROBS}.`,
          'top_logprobs',
        );
      }
      if (top > 0) config.logprobs = top;
    }
  }
  const thinking = thinkingConfig(request, model);
  if (thinking) config.thinkingConfig = thinking;
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
      throw new UnifiedError(
        'invalid_request',
        `Gemini function names must start with a letter or an underscore ('${name}').`,
        `tools[${i}].function.name`,
      );
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
  const invalid = () =>
    new UnifiedError(
      'invalid_request',
      "'tool_choice.allowed_tools' needs a mode (auto or required) and function tools.",
      'tool_choice.allowed_tools',
    );
  if (!isRecord(allowed) || (allowed.mode !== 'auto' && allowed.mode !== 'required') || !Array.isArray(allowed.tools))
    throw invalid();
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
    throw new UnifiedError(
      'invalid_request',
      "'tool_choice' is only allowed when 'tools' are specified.",
      'tool_choice',
    );
  }
  const known = (name: string) => {
    if (!all.some((d) => d.name === name)) {
      throw new UnifiedError(
        'invalid_request',
        `'tool_choice' names '${name}', which is not among the tools.`,
        'tool_choice',
      );
    }
  };
  if (choice === undefined || choice === 'auto') return { declarations: all };
  if (choice === 'none') return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'NONE' } } };
  if (choice === 'required') return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'ANY' } } };
  if (choice.type === 'function') {
    known(choice.function.name);
    return {
      declarations: all,
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } },
    };
  }
  const { mode, names } = allowedToolNames(choice);
  names.forEach(known);
  // Gemini takes allowedFunctionNames only with ANY; for auto the other declarations are withheld instead.
  if (mode === 'required')
    return { declarations: all, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: names } } };
  return { declarations: all.filter((d) => names.includes(d.name)) };
}

/** `model` (the upstream model name) picks how reasoning_effort is expressed; without it effort is refused. */
export function toGeminiRequest(request: ChatRequest, model?: string): GenerateContentRequest {
  refuseUnsupported(request);
  const body: GenerateContentRequest = toConversation(request.messages);
  const config = generationConfig(request, model);
  if (config) body.generationConfig = config;
  const tools = toolSetup(request);
  if (tools.declarations.length > 0) body.tools = [{ functionDeclarations: tools.declarations }];
  if (tools.toolConfig) body.toolConfig = tools.toolConfig;
  return body;
}

/** The request body both Gemini surfaces send (the Gemini API and Vertex AI). */
export function jsonBody(request: ChatRequest, upstreamModel: string): Buffer {
  return Buffer.from(JSON.stringify(toGeminiRequest(request, upstreamModel)));
}

export function buildGeminiRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  return {
    path: methodPath(target.backend.baseUrl, geminiResource(target.upstreamModel), methodFor(request.stream === true)),
    headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
    body: jsonBody(request, target.upstreamModel),
  };
}
