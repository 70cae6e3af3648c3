// Loads Envoy's service protos once per process with @grpc/proto-loader. The options must match the flags
// scripts/gen-proto-types.mjs passes to the type generator, or the generated types would lie.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as ExtProcProto } from '../generated/external_processor.js';
import type { ProtoGrpcType as AdsProto } from '../generated/ads.js';
import { PROTO_INCLUDE_DIRS, SERVICE_PROTOS } from './paths.js';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  oneofs: true,
  includeDirs: [...PROTO_INCLUDE_DIRS],
};

type ServiceProtos = ExtProcProto & AdsProto;

let cached: ServiceProtos | undefined;

export function loadServiceProtos(): ServiceProtos {
  if (!cached) {
    const definition = protoLoader.loadSync([...SERVICE_PROTOS], PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ServiceProtos;
  }
  return cached;
}

export function externalProcessorService(): grpc.ServiceDefinition {
  return loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor.service;
}
