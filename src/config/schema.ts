// The service config: one YAML file, validated at the boundary. Everything inside the service works with the
// typed `ServiceConfig` this schema produces, never with raw YAML.
import { z } from 'zod';
import { isImplemented } from '../providers/registry.js';
import { budgetsConfigSchema } from '../budget/config.js';
import { healthConfigSchema } from '../health/config.js';
import { isLoopbackHost, tlsOptionsSchema } from '../security/tls.js';
import { splitHostPort } from '../util/address.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:50051');

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** Admin HTTP: open on loopback; elsewhere /budgets and operator actions need a bearer token or mTLS. */
const adminSchema = z.strictObject({
  enabled: z.boolean().default(true),
  address: hostPort,
  /** Environment variable holding the bearer token /budgets and operator actions require (constant-time compare). */
  tokenEnv: envVarName.optional(),
  /** HTTPS; a verified client certificate from allowedClients also authorises protected paths. */
  tls: tlsOptionsSchema.optional(),
  /** Listen beyond loopback with neither tokenEnv nor tls (logs a warning at every start). */
  allowInsecure: z.boolean().default(false),
});

export const PROVIDER_KINDS = [
  'openai',
  'openai-compatible',
  'azure-openai',
  'anthropic',
  'gemini',
  'vertex',
  'bedrock',
  'cohere',
] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

const headerRecord = z
  .record(z.string(), z.string())
  .default({})
  .transform((headers) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])));

/** Hop-by-hop headers (RFC 9110 §7.6.1 and the usual extras): never forwarded to a provider. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Fields every backend has. Provider defaults (base URL, key header) are filled in by the topology. */
const backendCommon = {
  /** Unique name; Envoy endpoint metadata refers to a backend by this name. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lower-case letters, digits, "_", "." and "-"'),
  /** Base URL including any path prefix, e.g. https://api.openai.com/v1. Required where the provider has no default. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Environment variable holding the API key. Unset variable ⇒ backend disabled. Omit for key-less backends. */
  apiKeyEnv: envVarName.optional(),
  /** Header carrying the key. `authorization` sends `Bearer <key>`; any other header sends the key as is. */
  apiKeyHeader: z.string().toLowerCase().optional(),
  /** Extra static headers sent upstream (never secrets: those belong in apiKeyEnv). */
  headers: headerRecord,
  /**
   * Client request headers forwarded to this backend besides the default allowlist (accept, user-agent,
   * x-request-id, traceparent, tracestate). Every other client header is removed before the request leaves.
   */
  forwardHeaders: z
    .array(
      z
        .string()
        .toLowerCase()
        .regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name')
        .refine((name) => !/^(x-envoy-|x-llm-extproc-)/.test(name) && !HOP_BY_HOP.has(name), 'hop-by-hop and internal headers are never forwarded'),
    )
    .default([]),
  /**
   * Request fields this backend cannot honour: `reject` (default) answers 400 naming the field; `drop` leaves the
   * droppable ones out (reported in x-llm-extproc-dropped-params and a metric) and still refuses the rest.
   */
  unsupportedParams: z.enum(['reject', 'drop']).default('reject'),
  /** Envoy priority of this backend's endpoints when a route does not say otherwise. */
  priority: z.number().int().min(0).max(127).default(0),
};

/** Per-backend quirks of OpenAI-compatible servers: options, not forks. */
const compatSchema = z
  .strictObject({
    /** Rewrite tool-call ids to the 9-character alphanumeric form Mistral requires (and map them back). */
    toolCallIds: z.enum(['as-is', 'mistral']).default('as-is'),
    /** Field name the server uses for the sampling seed (Mistral: random_seed). */
    seedField: z.string().min(1).default('seed'),
    /** Request fields the server rejects; dropped before sending (documented drop), e.g. Groq's logprobs. */
    dropFields: z.array(z.string().min(1)).default([]),
    /** Largest `n` the server accepts (Groq: 1); larger requests get a 400. */
    maxN: z.number().int().min(1).optional(),
  })
  .prefault({});

/** Providers whose endpoint depends on the deployment, so the config must say where it is. */
const PROVIDERS_WITHOUT_DEFAULT_URL: ReadonlySet<ProviderKind> = new Set(['openai-compatible', 'azure-openai']);

const backendSchema = z.discriminatedUnion('provider', [
  z.strictObject({ ...backendCommon, provider: z.literal('openai') }),
  z.strictObject({ ...backendCommon, provider: z.literal('openai-compatible'), compat: compatSchema }),
  z.strictObject({
    ...backendCommon,
    provider: z.literal('azure-openai'),
    /** Deployment name for the classic /openai/deployments/{d}/… route; omit to use the /openai/v1 route. */
    deployment: z.string().min(1).optional(),
    /** api-version query parameter for the deployment route. */
    apiVersion: z.string().min(1).default('2024-10-21'),
  }),
  z.strictObject({
    ...backendCommon,
    provider: z.literal('anthropic'),
    anthropicVersion: z.string().min(1).default('2023-06-01'),
    /** Anthropic requires max_tokens; used when the client sends neither max_tokens nor max_completion_tokens. */
    defaultMaxTokens: z.number().int().min(1).default(4096),
  }),
  z.strictObject({ ...backendCommon, provider: z.literal('gemini') }),
  z.strictObject({
    ...backendCommon,
    provider: z.literal('vertex'),
    project: z.string().min(1),
    /** A region such as us-central1, or `global`. */
    location: z.string().regex(/^[a-z0-9-]+$/, 'expected a region such as us-central1, or global'),
    apiVersion: z.enum(['v1', 'v1beta1']).default('v1'),
    /** Environment variable holding an OAuth2 access token (refreshed by the platform, e.g. a token sidecar). */
    accessTokenEnv: envVarName.optional(),
    /** File holding an OAuth2 access token, re-read when it changes (e.g. a projected token). */
    accessTokenFile: z.string().min(1).optional(),
  }),
  z.strictObject({
    ...backendCommon,
    provider: z.literal('bedrock'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region, e.g. us-east-1'),
    accessKeyIdEnv: envVarName.default('AWS_ACCESS_KEY_ID'),
    secretAccessKeyEnv: envVarName.default('AWS_SECRET_ACCESS_KEY'),
    sessionTokenEnv: envVarName.default('AWS_SESSION_TOKEN'),
  }),
  z.strictObject({ ...backendCommon, provider: z.literal('cohere') }),
]);

const routeBackendSchema = z.strictObject({
  backend: z.string(),
  /** Model name sent upstream; defaults to the route's model. */
  model: z.string().min(1).optional(),
  /** Envoy priority: 0 serves first, higher ones are failover. Defaults to the backend's priority. */
  priority: z.number().int().min(0).max(127).optional(),
  weight: z.number().int().min(1).max(1_000_000).default(1),
  /** Overrides the route's and the backend's unsupportedParams for this endpoint. */
  unsupportedParams: z.enum(['reject', 'drop']).optional(),
});

const routeSchema = z.strictObject({
  /** The model name clients send (the alias). */
  model: z.string().min(1),
  backends: z.array(routeBackendSchema).min(1),
  /** Overrides the backends' unsupportedParams on this route. */
  unsupportedParams: z.enum(['reject', 'drop']).optional(),
});

export const serviceConfigSchema = z
  .strictObject({
    extproc: z
      .strictObject({
        address: hostPort.default('127.0.0.1:50051'),
        /** Optional Unix socket path for a per-pod sidecar. */
        unixSocket: z.string().min(1).optional(),
        /** On SIGTERM, how long open Process streams may take to finish before they are cut. */
        drainTimeoutMs: z.number().int().min(0).default(20_000),
        /**
         * On SIGTERM, how long new streams are still served after health turns NOT_SERVING, so Envoy's health
         * checker (every second, unhealthy after two failures, in the generated bootstrap) moves traffic away first.
         */
        drainGraceMs: z.number().int().min(0).default(5_000),
        /**
         * Mutual TLS on the TCP listener with a client-identity allowlist (src/security/tls.ts). Required when the
         * address is not loopback: the port hands out provider credentials and charges tenants.
         */
        tls: tlsOptionsSchema.optional(),
        /** Listen beyond loopback in plaintext anyway (logs a warning at every start). */
        allowInsecure: z.boolean().default(false),
        /**
         * Processes serving ext_proc (src/workers/). Absent: `start` uses the machine's cores
         * (os.availableParallelism()), or one with the stand-in data plane (its one ext_proc connection reaches one
         * worker); embedders of startService() one. 1: a single process, no cluster at all.
         */
        workers: z.number().int().min(1).max(256).optional(),
      })
      .prefault({}),
    admin: adminSchema.prefault({ address: '127.0.0.1:9090' }),
    /**
     * The xDS control plane (ADS, state of the world and delta) publishing the LLM clusters and endpoints with
     * their weights and health; when enabled, `envoy-bootstrap` and `start --envoy` point Envoy at it (docs/xds.md).
     */
    xds: z
      .strictObject({
        enabled: z.boolean().default(false),
        address: hostPort.default('127.0.0.1:18000'),
        /**
         * Mutual TLS on the xDS listener with a client-identity allowlist, as extproc.tls. Required when the address is
         * not loopback: whoever may connect learns every provider endpoint and the cluster settings.
         */
        tls: tlsOptionsSchema.optional(),
        /** Serve xDS beyond loopback in plaintext anyway (logs a warning at every start). */
        allowInsecure: z.boolean().default(false),
      })
      .prefault({}),
    dataPlane: z
      .strictObject({
        enabled: z.boolean().default(true),
        address: hostPort.default('127.0.0.1:8080'),
        /** Mirrors Envoy's per_connection_buffer_limit_bytes: BUFFERED bodies above it get 413. */
        bufferLimitBytes: z.number().int().positive().default(1024 * 1024),
        /** Mirrors the route's retry_policy.num_retries (retry on another priority). */
        numRetries: z.number().int().min(0).max(10).default(2),
        // 529 is Anthropic's overloaded_error: retried upstream-status-first, before the router stage maps it to 503.
        retriableStatusCodes: z.array(z.number().int().min(100).max(599)).default([429, 500, 502, 503, 504, 529]),
        /** Mirrors ext_proc message_timeout. */
        messageTimeoutMs: z.number().int().positive().default(10_000),
        /** Mirrors the route timeout (whole request incl. retries). */
        routeTimeoutMs: z.number().int().positive().default(300_000),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Largest unified request body the service accepts (413 above). */
        maxRequestBodyBytes: z.number().int().positive().default(1024 * 1024),
      })
      .prefault({}),
    logging: z
      .strictObject({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      })
      .prefault({}),
    /** Token and money budgets, rate limits and identities (docs/budgets.md). Absent: no budgets, no counting. */
    budgets: budgetsConfigSchema.optional(),
    /** Semantic health: passive checks, failure scores, active probes (docs/health.md). */
    health: healthConfigSchema.prefault({}),
    backends: z.array(backendSchema).default([]),
    routes: z.array(routeSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const { extproc, admin, xds } = config;
    if (!isLoopbackHost(splitHostPort(extproc.address).host) && !extproc.tls && !extproc.allowInsecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['extproc', 'address'],
        message: `${extproc.address} is not loopback: the ext_proc port hands out provider credentials, so it needs extproc.tls (mutual TLS with allowedClients), or extproc.allowInsecure: true`,
      });
    }
    if (xds.enabled && !isLoopbackHost(splitHostPort(xds.address).host) && !xds.tls && !xds.allowInsecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['xds', 'address'],
        message: `${xds.address} is not loopback: the xDS listener publishes every provider endpoint and cluster setting, so it needs xds.tls (mutual TLS with allowedClients), or xds.allowInsecure: true`,
      });
    }
    if (admin.enabled && !isLoopbackHost(splitHostPort(admin.address).host) && !admin.tls && !admin.tokenEnv && !admin.allowInsecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['admin', 'address'],
        message: `${admin.address} is not loopback: protect /budgets and operator actions with admin.tokenEnv or admin.tls, or set admin.allowInsecure: true`,
      });
    }
    const backendNames = new Set<string>();
    config.backends.forEach((backend, i) => {
      if (backendNames.has(backend.name)) {
        ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `duplicate backend name "${backend.name}"` });
      }
      backendNames.add(backend.name);
      if (!isImplemented(backend.provider)) {
        ctx.addIssue({ code: 'custom', path: ['backends', i, 'provider'], message: `provider "${backend.provider}" is not available in this build yet` });
      }
      if (!backend.baseUrl && PROVIDERS_WITHOUT_DEFAULT_URL.has(backend.provider)) {
        ctx.addIssue({ code: 'custom', path: ['backends', i, 'baseUrl'], message: `provider "${backend.provider}" needs a baseUrl` });
      }
      if (backend.provider === 'vertex' && (backend.accessTokenEnv === undefined) === (backend.accessTokenFile === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['backends', i], message: 'vertex needs exactly one of accessTokenEnv or accessTokenFile' });
      }
    });
    const models = new Set<string>();
    config.routes.forEach((route, i) => {
      if (models.has(route.model)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'model'], message: `duplicate route for model "${route.model}"` });
      }
      models.add(route.model);
      const seen = new Set<string>();
      route.backends.forEach((ref, j) => {
        if (!backendNames.has(ref.backend)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'backends', j, 'backend'], message: `unknown backend "${ref.backend}"` });
        }
        if (seen.has(ref.backend)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'backends', j, 'backend'], message: `backend "${ref.backend}" listed twice` });
        }
        seen.add(ref.backend);
      });
    });
  });

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
export type BackendConfig = ServiceConfig['backends'][number];
export type RouteConfig = ServiceConfig['routes'][number];
export type RouteBackendConfig = RouteConfig['backends'][number];
