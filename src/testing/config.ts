// Test helpers: build configs and snapshots from YAML text, as users write them.
import { parseConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/schema.js';
import type { ConfigSnapshot } from '../config/store.js';
import { resolveTopology, type Environment } from '../config/topology.js';

export function configFromYaml(text: string): ServiceConfig {
  const result = parseConfig(text);
  if (!result.ok) throw new Error(`test config invalid: ${JSON.stringify(result.problems)}`);
  return result.config;
}

export function snapshotFromYaml(text: string, env: Environment = {}): ConfigSnapshot {
  const config = configFromYaml(text);
  return { config, topology: resolveTopology(config, env), generation: 1 };
}

/** Two OpenAI-compatible backends: `primary` needs PRIMARY_KEY, `local` needs no key. */
export const TWO_BACKENDS_YAML = `
backends:
  - name: primary
    provider: openai
    baseUrl: https://api.example.com/v1
    apiKeyEnv: PRIMARY_KEY
  - name: local
    provider: openai-compatible
    baseUrl: http://127.0.0.1:8000/v1
    priority: 1
    headers:
      x-local-tenant: team-a
routes:
  - model: gpt-4o-mini
    backends:
      - backend: primary
      - backend: local
        model: llama-3-8b
  - model: keyed-only
    backends:
      - backend: primary
`;
