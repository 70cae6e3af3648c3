// Starts the real service (ext_proc + local data plane + admin) on free loopback ports from a YAML config.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { parseConfig, formatProblems } from '../../src/config/load.js';
import type { Environment } from '../../src/config/topology.js';
import { startService, type RunningService } from '../../src/service.js';
import type { AccessLogEntry } from '../../src/dataplane/server.js';

/** Listeners on free loopback ports and quiet logs, merged under whatever the test's YAML says. */
function withLoopbackListeners(yaml: string): string {
  const config = (parse(yaml) ?? {}) as Record<string, Record<string, unknown> | undefined>;
  for (const listener of ['extproc', 'admin', 'dataPlane']) config[listener] = { address: '127.0.0.1:0', ...config[listener] };
  config.logging = { level: 'error', ...config.logging };
  return stringify(config);
}

export type TestService = RunningService & { configFile: string; baseUrl: string; adminUrl: string; accessLog: AccessLogEntry[] };

export async function startTestService(yaml: string, env: Environment): Promise<TestService> {
  const text = withLoopbackListeners(yaml);
  const result = parseConfig(text);
  if (!result.ok) throw new Error(formatProblems('test config', result.problems));
  const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-e2e-')), 'config.yaml');
  writeFileSync(configFile, text);
  const accessLog: AccessLogEntry[] = [];
  const service = await startService({ configFile, config: result.config, env, accessLog: (entry) => accessLog.push(entry) });
  return {
    ...service,
    close: service.close,
    configFile,
    accessLog,
    baseUrl: `http://127.0.0.1:${service.dataPlanePort}/v1`,
    adminUrl: `http://127.0.0.1:${service.adminPort}`,
  };
}
