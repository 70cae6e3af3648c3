// Shared protoc-plugin plumbing for the local buf plugins: read the CodeGeneratorRequest from stdin, write the
// CodeGeneratorResponse to stdout.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  CodeGeneratorRequestSchema,
  CodeGeneratorResponseSchema,
  CodeGeneratorResponse_Feature,
} from '@bufbuild/protobuf/wkt';

export async function readRequest() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return fromBinary(CodeGeneratorRequestSchema, Buffer.concat(chunks));
}

export function writeResponse(files, error) {
  const res = create(CodeGeneratorResponseSchema, {
    supportedFeatures: BigInt(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
    file: files.map(([name, content]) => ({ name, content })),
    ...(error ? { error } : {}),
  });
  process.stdout.write(toBinary(CodeGeneratorResponseSchema, res));
}

/** `a=b,c` → { a: 'b', c: true } */
export function parseParameter(parameter) {
  const out = {};
  for (const part of parameter
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf('=');
    if (i < 0) out[part] = true;
    else out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
