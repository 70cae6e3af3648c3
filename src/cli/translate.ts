// `llm-extproc translate`: runs one provider translation offline, for debugging a mapping or writing a fixture.
//   request:  unified JSON on stdin  → the provider-native body on stdout; method, path and headers on stderr
//   response: provider bytes on stdin (JSON, SSE or AWS eventstream with --stream) → unified JSON or SSE on stdout
// The backend is synthetic (the provider's example entry) unless --config/--backend name one. Either way every
// credential is a dummy: no real key, token (file) or AWS secret is read, and credential headers are redacted on
// stderr all the same.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { serviceConfigSchema } from '../config/schema.js';
import { resolveTopology, type Environment, type ResolvedBackend } from '../config/topology.js';
import type { AttemptCredentials } from '../credentials/types.js';
import { PROVIDER_APIS, PROVIDER_KINDS, type ProviderKind } from '../providers/apis.js';
import { providerFor } from '../providers/registry.js';
import type { ResponseContext } from '../providers/provider.js';
import { clientWantsStreamUsage, parseChatRequest, type ChatRequest } from '../unified/chat-request.js';
import { asUnifiedError, UnifiedError } from '../unified/errors.js';
import type { Usage } from '../unified/usage.js';
import { Secret } from '../util/secret.js';

export const TRANSLATE_USAGE = `usage:
  llm-extproc translate --provider NAME --direction request|response [--stream] [--model UPSTREAM_MODEL]
                        [--config FILE --backend NAME] [--status N] [--request FILE] [--include-usage]

  request   stdin: a unified (OpenAI) chat request      stdout: the provider's request body
            stderr: method, path and headers (credentials redacted)
  response  stdin: the provider's response body          stdout: the unified response (JSON, or SSE with --stream)
            --status N       the upstream HTTP status (default 200)
            --request FILE   the unified request the response answers (default: a minimal one)
            --include-usage  the client asked for stream usage (stream_options.include_usage)
  providers: ${PROVIDER_KINDS.join(', ')}
`;

/** Marks every credential this command makes up, so redaction can also catch it where it is not expected. */
const DUMMY = 'llm-extproc-dummy-credential';
/** Any environment variable a backend names resolves to a dummy: translation never needs a real secret. */
const DUMMY_ENV: Environment = new Proxy(
  {},
  { get: (_target, name) => (typeof name === 'string' ? `${DUMMY}-${name}` : undefined) },
);
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'api-key',
  'x-api-key',
  'x-goog-api-key',
  'x-amz-security-token',
  'proxy-authorization',
]);
const SYNTHETIC_BACKEND = 'translate';

function isProviderKind(value: string): value is ProviderKind {
  return (PROVIDER_KINDS as readonly string[]).includes(value);
}

/** A backend of `kind`: the provider's example entry, which the schema accepts and the defaults complete. */
function syntheticBackend(kind: ProviderKind): Record<string, unknown> {
  return { ...PROVIDER_APIS[kind].example, name: SYNTHETIC_BACKEND, provider: kind };
}

/** The attempt's credentials: DUMMY_ENV gave every variable a dummy; token files get one too instead of a read. */
function dummyCredentials(backend: ResolvedBackend): AttemptCredentials {
  const roles = new Map(backend.credentials);
  for (const source of backend.credentialFiles) roles.set(source.role, new Secret(`${DUMMY}-${source.role}`));
  return { apiKey: backend.apiKey, roles };
}

function resolveBackend(backend: Record<string, unknown>, model: string): ResolvedBackend {
  const parsed = serviceConfigSchema.safeParse({
    backends: [backend],
    routes: [{ model, backends: [{ backend: String(backend.name) }] }],
  });
  if (!parsed.success)
    throw new CliError(`cannot build a backend: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const resolved = resolveTopology(parsed.data, DUMMY_ENV).backends.get(String(backend.name));
  if (!resolved) throw new CliError('cannot build a backend');
  return resolved;
}

class CliError extends Error {
  constructor(
    message: string,
    readonly code = 2,
  ) {
    super(message);
  }
}

function redact(name: string, value: string, backend: ResolvedBackend): string {
  return CREDENTIAL_HEADERS.has(name) || name === backend.apiKeyHeader || value.includes(DUMMY) ? '[redacted]' : value;
}

function redactPath(path: string): string {
  return path.includes(DUMMY) ? path.replace(new RegExp(`${DUMMY}[A-Za-z0-9_-]*`, 'g'), '[redacted]') : path;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function describeUsage(usage: Usage | undefined): string {
  if (!usage) return 'usage: none reported\n';
  return `usage: prompt=${usage.promptTokens} completion=${usage.completionTokens} total=${usage.totalTokens} cached=${usage.cachedPromptTokens} reasoning=${usage.reasoningTokens}\n`;
}

interface Options {
  readonly kind: ProviderKind;
  readonly backend: ResolvedBackend;
  readonly upstreamModel: string | undefined;
  readonly stream: boolean;
}

function selectBackend(values: { provider?: string; config?: string; backend?: string; model?: string }): {
  kind: ProviderKind;
  backend: ResolvedBackend;
} {
  if (values.config !== undefined || values.backend !== undefined) {
    if (values.config === undefined || values.backend === undefined)
      throw new CliError('--config and --backend go together');
    const loaded = loadConfigFile(values.config);
    if (!loaded.ok) throw new CliError(formatProblems(values.config, loaded.problems), 1);
    const configured = loaded.config.backends.find((b) => b.name === values.backend);
    if (!configured) throw new CliError(`${values.config} has no backend '${values.backend}'`, 1);
    if (values.provider !== undefined && values.provider !== configured.provider) {
      throw new CliError(`backend '${configured.name}' is a ${configured.provider} backend, not ${values.provider}`);
    }
    return { kind: configured.provider, backend: resolveBackend(configured, values.model ?? 'model') };
  }
  if (values.provider === undefined)
    throw new CliError('--provider NAME (or --config FILE --backend NAME) is required');
  if (!isProviderKind(values.provider)) {
    throw new CliError(`unknown provider '${values.provider}'; this build has ${PROVIDER_KINDS.join(', ')}`);
  }
  return { kind: values.provider, backend: resolveBackend(syntheticBackend(values.provider), values.model ?? 'model') };
}

function translateRequest(
  input: Buffer,
  options: Options,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): number {
  const parsed = parseChatRequest(input);
  const request: ChatRequest = options.stream ? { ...parsed, stream: true } : parsed;
  const provider = providerFor(options.kind);
  provider.checkRequest(request, options.backend);
  const upstream = provider.buildRequest(request, {
    backend: options.backend,
    upstreamModel: options.upstreamModel ?? request.model,
    now: new Date(),
    credentials: dummyCredentials(options.backend),
  });
  stdout.write(upstream.body);
  const lines = [`POST ${redactPath(upstream.path)}`];
  for (const [name, value] of Object.entries(upstream.headers))
    lines.push(`${name}: ${redact(name, value, options.backend)}`);
  stderr.write(lines.join('\n') + '\n');
  return 0;
}

function readRequestFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read --request ${file}: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
}

function responseContext(requestFile: string | undefined, options: Options, includeUsage: boolean): ResponseContext {
  const request = requestFile
    ? parseChatRequest(readRequestFile(requestFile))
    : parseChatRequest(
        JSON.stringify({ model: options.upstreamModel ?? 'model', messages: [{ role: 'user', content: 'translate' }] }),
      );
  const streamed: ChatRequest = options.stream ? { ...request, stream: true } : request;
  return {
    request: includeUsage
      ? { ...streamed, stream_options: { ...streamed.stream_options, include_usage: true } }
      : streamed,
    clientWantsUsage: includeUsage || clientWantsStreamUsage(streamed),
    requestId: 'translate',
    created: Math.floor(Date.now() / 1000),
  };
}

function translateResponse(
  input: Buffer,
  options: Options,
  status: number,
  context: ResponseContext,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): number {
  const provider = providerFor(options.kind);
  if (options.stream) {
    const translator = provider.createStreamTranslator(context);
    const out = translator.push(input) ?? input;
    stdout.write(Buffer.concat([out, translator.end()]));
    stderr.write(describeUsage(translator.usage));
    return 0;
  }
  const translated = provider.translateResponse(status, input, context);
  stdout.write(translated.body ?? input);
  const notes: string[] = [];
  if (translated.status !== undefined && translated.status !== status)
    notes.push(`status: ${status} → ${translated.status}`);
  for (const [name, value] of Object.entries(translated.headers ?? {})) notes.push(`${name}: ${value}`);
  stderr.write(notes.map((n) => n + '\n').join('') + describeUsage(translated.usage));
  return 0;
}

export async function translateCommand(
  args: string[],
  stdin: NodeJS.ReadableStream,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        provider: { type: 'string' },
        direction: { type: 'string' },
        stream: { type: 'boolean', default: false },
        model: { type: 'string' },
        config: { type: 'string' },
        backend: { type: 'string' },
        status: { type: 'string' },
        request: { type: 'string' },
        'include-usage': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      stdout.write(TRANSLATE_USAGE);
      return 0;
    }
    if (values.direction !== 'request' && values.direction !== 'response')
      throw new CliError('--direction request|response is required');
    const status = values.status === undefined ? 200 : Number(values.status);
    if (!Number.isInteger(status) || status < 100 || status > 599)
      throw new CliError(`--status must be an HTTP status, not '${values.status}'`);
    const { kind, backend } = selectBackend(values);
    const options: Options = { kind, backend, upstreamModel: values.model, stream: values.stream };
    if (values.direction === 'request') return translateRequest(await readAll(stdin), options, stdout, stderr);
    const context = responseContext(values.request, options, values['include-usage']);
    return translateResponse(await readAll(stdin), options, status, context, stdout, stderr);
  } catch (err) {
    if (err instanceof CliError) {
      stderr.write(`llm-extproc translate: ${err.message}\n${err.code === 2 ? TRANSLATE_USAGE : ''}`);
      return err.code;
    }
    if (
      err instanceof Error &&
      'code' in err &&
      typeof err.code === 'string' &&
      err.code.startsWith('ERR_PARSE_ARGS')
    ) {
      stderr.write(`llm-extproc translate: ${err.message}\n${TRANSLATE_USAGE}`);
      return 2;
    }
    // A request the provider refuses (or invalid JSON) is reported as the client would see it.
    const error = err instanceof UnifiedError ? err : asUnifiedError(err);
    const detail = err instanceof UnifiedError ? '' : ` (${err instanceof Error ? err.message : String(err)})`;
    stderr.write(`${error.status} ${JSON.stringify(error.toBody(undefined))}${detail}\n`);
    return 1;
  }
}
