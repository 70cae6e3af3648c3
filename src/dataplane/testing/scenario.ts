// Test helper: fake upstreams + scripted ext_proc + data plane in one object, closed together.
import { ROUTE_HEADER } from '../../extproc/contract.js';
import type { Script } from './fake-extproc.js';
import { startFakeUpstream, type FakeUpstream, type UpstreamHandler } from './fake-upstream.js';
import { makeTopology, startHarness, type BackendFixture, type Harness, type RouteFixture } from './harness.js';
import type { DataPlaneSettings } from '../server.js';

export interface UpstreamFixture {
  readonly handler: UpstreamHandler;
  readonly priority?: number;
  readonly disabled?: boolean;
  /** Path prefix of the backend's baseUrl, e.g. "/v1". */
  readonly basePath?: string;
}

export interface ScenarioOptions {
  readonly script: Script;
  readonly upstreams: Readonly<Record<string, UpstreamFixture>>;
  /** Default: one route, model "m" (cluster "llm.m"), over every upstream. */
  readonly routes?: readonly RouteFixture[];
  /** Backends that exist in the config without a running server. */
  readonly extraBackends?: readonly BackendFixture[];
  readonly settings?: Partial<DataPlaneSettings>;
  readonly random?: () => number;
}

export interface Scenario extends Harness {
  readonly upstreams: Readonly<Record<string, FakeUpstream>>;
}

/** Request headers that route to the default model route. */
export const ROUTE_M = { [ROUTE_HEADER]: 'llm.m', 'content-type': 'application/json' } as const;

export async function scenario(options: ScenarioOptions): Promise<Scenario> {
  const upstreams: Record<string, FakeUpstream> = {};
  const backends: BackendFixture[] = [...(options.extraBackends ?? [])];
  for (const [name, fixture] of Object.entries(options.upstreams)) {
    const upstream = await startFakeUpstream(fixture.handler, fixture.basePath ?? '');
    upstreams[name] = upstream;
    backends.push({
      name,
      baseUrl: upstream.url,
      priority: fixture.priority ?? 0,
      disabled: fixture.disabled ?? false,
    });
  }
  const routes = options.routes ?? [{ model: 'm', backends: backends.map((b) => ({ backend: b.name })) }];
  const harness = await startHarness({
    script: options.script,
    topology: makeTopology(backends, routes),
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
    ...(options.random !== undefined ? { random: options.random } : {}),
  });
  return {
    ...harness,
    upstreams,
    close: async () => {
      await harness.close();
      await Promise.all(Object.values(upstreams).map((u) => u.close()));
    },
  };
}
