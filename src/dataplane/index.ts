// The local data plane: a development stand-in for Envoy that drives llm-extproc over the real ext_proc gRPC
// protocol. Never a production proxy (production is Envoy). See docs/dataplane.md.
export {
  startDataPlane,
  type AccessLogEntry,
  type AttemptAccessLog,
  type DataPlane,
  type DataPlaneEvent,
  type DataPlaneOptions,
  type DataPlaneSettings,
} from './server.js';
export {
  CATCH_ALL_ROUTE,
  EXT_PROC_CLUSTER,
  LLM_CLUSTER_LB,
  ROUTE_RETRY_POLICY,
  ROUTER_EXT_PROC_FILTER,
  UPSTREAM_EXT_PROC_FILTER,
  modelRoute,
  type ExtProcFilterConfig,
} from './filters.js';
