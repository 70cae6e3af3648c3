// Envoy message types by full name, loaded lazily with protobufjs reflection from protos/gen (Envoy 1.40.0, see
// protos/README.md). A type's package maps to its directory (envoy.config.cluster.v3 →
// envoy/config/cluster/v3/), so a lookup loads only that directory and its imports: a full bootstrap needs ~70
// files (~100 ms) instead of all ~450 (~400 ms).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_INCLUDE_DIRS } from '../protos/paths.js';

const require = createRequire(import.meta.url);

// protobufjs bundles the well-known types but not descriptor.proto, which the annotation protos (validate, udpa)
// extend. @grpc/proto-loader registers the same bundled JSON; doing it here too keeps this module independent.
function ensureDescriptorProto(): void {
  const common = protobuf.common as unknown as Record<string, unknown>;
  if ('google/protobuf/descriptor.proto' in common) return;
  const json = require('protobufjs/google/protobuf/descriptor.json') as {
    nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } };
  };
  protobuf.common('descriptor', json.nested.google.nested.protobuf.nested);
}

const WELL_KNOWN_FILES = ['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map(
  (name) => `google/protobuf/${name}.proto`,
);

const IMPORT_RE = /^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm;

export class ProtoRegistry {
  private readonly root = new protobuf.Root();
  private readonly loadedDirs = new Set<string>();
  /** Whether a file and all its transitive imports exist (a few protos in the package import files it lacks). */
  private readonly loadable = new Map<string, boolean>();

  constructor(private readonly includeDirs: readonly string[] = PROTO_INCLUDE_DIRS) {
    ensureDescriptorProto();
    this.root.resolvePath = (_origin, target) => this.locateFile(target) ?? target;
    this.root.loadSync(WELL_KNOWN_FILES, { keepCase: true });
  }

  /** The message type with this full name (no leading dot), or undefined if no bundled proto defines it. */
  findType(fullName: string): protobuf.Type | undefined {
    const found = this.lookup(fullName);
    if (found) return found;
    const parts = fullName.split('.');
    for (let i = parts.length - 1; i >= 1; i--) {
      const dir = parts.slice(0, i).join('/');
      if (this.loadDir(dir)) return this.lookup(fullName);
    }
    return undefined;
  }

  private lookup(fullName: string): protobuf.Type | undefined {
    const found = this.root.lookup(fullName);
    return found instanceof protobuf.Type ? found : undefined;
  }

  /** Loads every loadable .proto of a package directory; false if no include dir has that directory. */
  private loadDir(dir: string): boolean {
    if (this.loadedDirs.has(dir)) return true;
    const files: string[] = [];
    let exists = false;
    for (const base of this.includeDirs) {
      const full = path.join(base, dir);
      if (!fs.existsSync(full) || !fs.statSync(full).isDirectory()) continue;
      exists = true;
      for (const name of fs.readdirSync(full)) {
        const rel = `${dir}/${name}`;
        if (name.endsWith('.proto') && this.isLoadable(rel)) files.push(rel);
      }
    }
    if (!exists) return false;
    this.loadedDirs.add(dir);
    // protobufjs skips files it has already fetched, so overlapping imports cost nothing.
    if (files.length > 0) this.root.loadSync(files, { keepCase: true });
    return true;
  }

  private isBundled(file: string): boolean {
    return file in (protobuf.common as unknown as Record<string, unknown>);
  }

  private locateFile(file: string): string | undefined {
    if (this.isBundled(file)) return undefined; // protobufjs serves it from its bundle
    for (const base of this.includeDirs) {
      const full = path.join(base, file);
      if (fs.existsSync(full)) return full;
    }
    return undefined;
  }

  private isLoadable(file: string): boolean {
    const known = this.loadable.get(file);
    if (known !== undefined) return known;
    this.loadable.set(file, true); // breaks import cycles
    let ok: boolean;
    if (this.isBundled(file)) {
      ok = true;
    } else {
      const full = this.locateFile(file);
      ok =
        full !== undefined &&
        [...fs.readFileSync(full, 'utf8').matchAll(IMPORT_RE)].every((m) => this.isLoadable(m[1] ?? ''));
    }
    this.loadable.set(file, ok);
    return ok;
  }
}

let shared: ProtoRegistry | undefined;

/** One registry per process: loaded types are reused by every validation. */
export function sharedRegistry(): ProtoRegistry {
  shared ??= new ProtoRegistry();
  return shared;
}
