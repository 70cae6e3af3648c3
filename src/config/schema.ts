// The service config: one YAML file, validated at the boundary. Everything inside the service works with the
// typed `ServiceConfig` this schema produces, never with raw YAML.
import { z } from 'zod';
import { BACKEND_SCHEMAS, backendRules } from '../providers/apis.js';
import { budgetsConfigSchema } from '../budget/config.js';
import { healthConfigSchema } from '../health/config.js';
import { isLoopbackHost, tlsOptionsSchema } from '../security/tls.js';
import { splitHostPort } from '../util/address.js';
import { envVarName } from './backend-fields.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:50051');

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

const backendSchema = z.discriminatedUnion('provider', BACKEND_SCHEMAS);

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
        bufferLimitBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
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
        maxRequestBodyBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
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
    if (
      admin.enabled &&
      !isLoopbackHost(splitHostPort(admin.address).host) &&
      !admin.tls &&
      !admin.tokenEnv &&
      !admin.allowInsecure
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['admin', 'address'],
        message: `${admin.address} is not loopback: protect /budgets and operator actions with admin.tokenEnv or admin.tls, or set admin.allowInsecure: true`,
      });
    }
    const backendNames = new Set<string>();
    config.backends.forEach((backend, i) => {
      if (backendNames.has(backend.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['backends', i, 'name'],
          message: `duplicate backend name "${backend.name}"`,
        });
      }
      backendNames.add(backend.name);
      const rules = backendRules(backend.provider);
      if (!backend.baseUrl && rules.defaultBaseUrl(backend) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['backends', i, 'baseUrl'],
          message: `provider "${backend.provider}" needs a baseUrl`,
        });
      }
      for (const problem of rules.problems?.(backend) ?? []) {
        ctx.addIssue({ code: 'custom', path: ['backends', i, ...problem.path], message: problem.message });
      }
    });
    const models = new Set<string>();
    config.routes.forEach((route, i) => {
      if (models.has(route.model)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'model'],
          message: `duplicate route for model "${route.model}"`,
        });
      }
      models.add(route.model);
      const seen = new Set<string>();
      route.backends.forEach((ref, j) => {
        if (!backendNames.has(ref.backend)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'backends', j, 'backend'],
            message: `unknown backend "${ref.backend}"`,
          });
        }
        if (seen.has(ref.backend)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'backends', j, 'backend'],
            message: `backend "${ref.backend}" listed twice`,
          });
        }
        seen.add(ref.backend);
      });
    });
  });

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
export type BackendConfig = ServiceConfig['backends'][number];
