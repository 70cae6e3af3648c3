// `llm-extproc tokens [--model NAME] [--json]`: reads a unified request (OpenAI Chat Completions JSON) on stdin,
// validates it like the gateway does, and prints its prompt token count and whether that count is exact.
import { parseArgs } from 'node:util';
import { parseChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';
import { countPromptTokens, loadEncoders, type PromptCount } from './counter.js';

export const TOKENS_USAGE = `usage: llm-extproc tokens [--model NAME] [--json] < request.json
  Counts the prompt tokens of a Chat Completions request read from stdin. --model overrides the request's model
  (e.g. the backend's model name). Prints the count and whether it is exact (public tokenizer) or an estimate.
`;

export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: CommandOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Exit code: 0 counted, 1 invalid request, 2 usage error. */
export async function tokensCommand(
  args: string[],
  stdin: NodeJS.ReadableStream,
  output: CommandOutput = STDIO,
): Promise<number> {
  let values: { model?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { model: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    output.err(`${err instanceof Error ? err.message : String(err)}\n${TOKENS_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    output.out(TOKENS_USAGE);
    return 0;
  }
  if (values.model !== undefined && values.model.trim() === '') {
    output.err(`--model needs a model name\n${TOKENS_USAGE}`);
    return 2;
  }
  const body = await readAll(stdin);
  let request;
  try {
    request = parseChatRequest(body);
  } catch (err) {
    if (err instanceof UnifiedError) {
      output.err(`invalid request: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  await loadEncoders();
  const count = countPromptTokens(request, values.model !== undefined ? { model: values.model } : {});
  output.out(values.json === true ? `${JSON.stringify(count)}\n` : `${describeCount(count)}\n`);
  return 0;
}

/** One line, e.g. `124 prompt tokens, exact (gpt-4o, o200k_base)`. */
export function describeCount(count: PromptCount): string {
  const approximated = count.approximations.length > 0 ? `; approximated: ${count.approximations.join(', ')}` : '';
  if (count.kind === 'exact') {
    return `${count.tokens} prompt tokens, ${approximated === '' ? 'exact' : 'exact tokenizer'} (${count.model}, ${count.encoding}${approximated})`;
  }
  return (
    `${count.tokens} prompt tokens, estimate (${count.model}: no public tokenizer, family ${count.family ?? 'unknown'}; ` +
    `${count.encoding} count ${count.baseTokens} × factor ${count.factor.toFixed(2)}${approximated})`
  );
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  return Buffer.concat(chunks);
}
