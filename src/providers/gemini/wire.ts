// Gemini's wire format (Gemini API and Vertex AI share it), as far as this gateway writes and reads it. Keys are
// camelCase as on the wire. `sdk-types.test.ts` checks these types against @google/genai's at compile time.

export interface TextPart {
  text: string;
}

export interface InlineDataPart {
  inlineData: { mimeType: string; data: string };
}

export interface FileDataPart {
  fileData: { mimeType: string; fileUri: string };
}

export interface FunctionCallPart {
  functionCall: { name: string; args: Record<string, unknown> };
  /** Gemini 3 signs its function calls; the signature must come back with the call in later turns. */
  thoughtSignature?: string;
}

export interface FunctionResponsePart {
  functionResponse: { name: string; response: Record<string, unknown> };
}

export type RequestPart = TextPart | InlineDataPart | FileDataPart | FunctionCallPart | FunctionResponsePart;

export type Role = 'user' | 'model';

export interface Content {
  role: Role;
  parts: RequestPart[];
}

export interface SystemInstruction {
  parts: TextPart[];
}

export interface GenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  /** JSON Schema as the client wrote it (Gemini converts it; `responseSchema` would need the OpenAPI subset). */
  responseJsonSchema?: Record<string, unknown>;
  topK?: number;
  /** Return the chosen tokens' log probabilities (OpenAI `logprobs: true`). */
  responseLogprobs?: boolean;
  /** How many alternatives per token (OpenAI `top_logprobs`); needs responseLogprobs. */
  logprobs?: number;
  /** Gemini 3 takes thinkingLevel, Gemini 2.5 thinkingBudget (tokens; 0 turns thinking off where allowed). */
  thinkingConfig?: { thinkingLevel?: 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH'; thinkingBudget?: number };
}

export interface FunctionDeclaration {
  name: string;
  description?: string;
  /** JSON Schema as the client wrote it, like responseJsonSchema. */
  parametersJsonSchema?: Record<string, unknown>;
}

export interface Tool {
  functionDeclarations: FunctionDeclaration[];
}

export type FunctionCallingMode = 'AUTO' | 'ANY' | 'NONE';

export interface ToolConfig {
  functionCallingConfig: { mode: FunctionCallingMode; allowedFunctionNames?: string[] };
}

/** The body of `:generateContent` and `:streamGenerateContent`. */
export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: SystemInstruction;
  generationConfig?: GenerationConfig;
  tools?: Tool[];
  toolConfig?: ToolConfig;
}

// Response side: everything is optional on the wire, so these describe what may be present; values are still
// narrowed with guards when read because they come from the network.

export interface ResponsePart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { id?: string; name?: string; args?: Record<string, unknown> };
}

export interface Candidate {
  index?: number;
  content?: { role?: string; parts?: ResponsePart[] };
  finishReason?: string;
}

export interface UsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GenerateContentResponse {
  candidates?: Candidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: UsageMetadata;
  modelVersion?: string;
  responseId?: string;
}
