// Compares FileDescriptorSets structurally (messages, fields incl. number/type/label/oneof, enums, services, and the
// serialized field/message options, which carry the PGV rules). Usage:
//   node compare-descriptor-sets.mjs <reference.binpb> <candidate.binpb> [path-prefix ...]
import { readFileSync } from 'node:fs';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, FieldOptionsSchema, MessageOptionsSchema } from '@bufbuild/protobuf/wkt';

const [refPath, candPath, ...prefixes] = process.argv.slice(2);
const load = (p) => new Map(fromBinary(FileDescriptorSetSchema, readFileSync(p)).file.map((f) => [f.name, f]));
// Options are compared in a canonical form: the wire fields sorted by number, recursively (compilers may serialize
// an option's fields in a different order).
function canon(bytes) {
  const fields = [];
  let pos = 0;
  const vi = () => {
    let v = 0n,
      s = 0n;
    for (;;) {
      if (pos >= bytes.length) throw 0;
      const b = bytes[pos++];
      v |= BigInt(b & 0x7f) << s;
      s += 7n;
      if (!(b & 0x80)) return v;
    }
  };
  try {
    while (pos < bytes.length) {
      const tag = vi();
      const num = tag >> 3n,
        wt = Number(tag & 7n);
      if (num === 0n) throw 0;
      if (wt === 0) fields.push([num, `v${vi()}`]);
      else if (wt === 1) {
        pos += 8;
        if (pos > bytes.length) throw 0;
        fields.push([num, Buffer.from(bytes.subarray(pos - 8, pos)).toString('hex')]);
      } else if (wt === 5) {
        pos += 4;
        if (pos > bytes.length) throw 0;
        fields.push([num, Buffer.from(bytes.subarray(pos - 4, pos)).toString('hex')]);
      } else if (wt === 2) {
        const l = Number(vi());
        const sub = bytes.subarray(pos, pos + l);
        pos += l;
        if (pos > bytes.length) throw 0;
        const c = canon(sub);
        fields.push([num, c ?? `"${Buffer.from(sub).toString('hex')}"`]);
      } else throw 0;
    }
  } catch {
    return undefined;
  }
  return `{${fields
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([n, v]) => `${n}:${v}`)
    .join(',')}}`;
}
const hex = (schema, o) => (o ? canon(toBinary(schema, o)) : '');

function sig(f) {
  const out = new Set();
  const msg = (m, scope) => {
    const n = `${scope}.${m.name}`;
    out.add(`message ${n} opts=${hex(MessageOptionsSchema, m.options)}`);
    for (const fl of m.field) {
      const oneof = fl.oneofIndex !== undefined && !fl.proto3Optional ? m.oneofDecl[fl.oneofIndex]?.name : '';
      out.add(
        `field ${n}.${fl.name} = ${fl.number} ${fl.label}/${fl.type} ${fl.typeName} oneof=${oneof ?? ''} opt3=${fl.proto3Optional} opts=${hex(FieldOptionsSchema, fl.options)}`,
      );
    }
    for (const e of m.enumType) en(e, n);
    for (const nm of m.nestedType) msg(nm, n);
  };
  const en = (e, scope) => {
    for (const v of e.value) out.add(`enum ${scope}.${e.name}.${v.name} = ${v.number}`);
  };
  for (const m of f.messageType) msg(m, f.package);
  for (const e of f.enumType) en(e, f.package);
  for (const s of f.service)
    for (const m of s.method)
      out.add(
        `rpc ${f.package}.${s.name}.${m.name}(${m.clientStreaming ? 'stream ' : ''}${m.inputType}) returns (${m.serverStreaming ? 'stream ' : ''}${m.outputType})`,
      );
  for (const x of f.extension) out.add(`extend ${x.extendee} ${x.name} = ${x.number}`);
  return out;
}

const ref = load(refPath),
  cand = load(candPath);
const want = (n) => prefixes.length === 0 || prefixes.some((p) => n.startsWith(p));
let same = 0,
  differ = 0,
  onlyRef = [],
  onlyCand = [];
const diffs = [];
for (const [name, f] of ref) {
  if (!want(name)) continue;
  const c = cand.get(name);
  if (!c) {
    onlyRef.push(name);
    continue;
  }
  const a = sig(f),
    b = sig(c);
  const missing = [...a].filter((x) => !b.has(x)),
    extra = [...b].filter((x) => !a.has(x));
  if (missing.length || extra.length) {
    differ++;
    diffs.push({ name, missing, extra });
  } else same++;
}
for (const name of cand.keys()) if (want(name) && !ref.has(name)) onlyCand.push(name);
console.log(
  `identical: ${same}, differing: ${differ}, only in reference: ${onlyRef.length}, only in candidate: ${onlyCand.length}`,
);
if (process.env.VERBOSE) {
  for (const d of diffs) {
    console.log(`~ ${d.name}`);
    for (const x of d.missing) console.log(`   - ${x.slice(0, 220)}`);
    for (const x of d.extra) console.log(`   + ${x.slice(0, 220)}`);
  }
  for (const n of onlyRef) console.log(`- ${n}`);
  for (const n of onlyCand) console.log(`+ ${n}`);
} else {
  console.log(
    'differing:',
    diffs
      .map((d) => d.name)
      .slice(0, 40)
      .join(' '),
  );
  console.log('only in reference:', onlyRef.slice(0, 40).join(' '));
}
