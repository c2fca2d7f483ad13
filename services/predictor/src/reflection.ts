import type * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto } from 'protobufjs/ext/descriptor/index.js';

const { FileDescriptorProto } = descriptor;

/**
 * protobufjs (used by proto-loader) names the implicit entry message of a `map<K, V> foo` field
 * "Foo" instead of "FooEntry". Strict reflection clients (grpcurl, Go's protodesc) reject such
 * descriptors ("invalid map: incorrect implicit map entry name"), so the descriptors handed to
 * the reflection service are rewritten with the canonical names.
 */
export function withCanonicalMapEntries(def: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const cache = new Map<Buffer, Buffer>();
  const fix = (bin: Buffer): Buffer => {
    let out = cache.get(bin);
    if (!out) {
      const file = FileDescriptorProto.decode(bin) as unknown as { messageType: IDescriptorProto[] };
      for (const m of file.messageType) fixMessage(m);
      out = Buffer.from(FileDescriptorProto.encode(file).finish());
      cache.set(bin, out);
    }
    return out;
  };
  const patched: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(def)) {
    const v = value as { fileDescriptorProtos?: Buffer[] };
    patched[name] = Array.isArray(v.fileDescriptorProtos) ? { ...v, fileDescriptorProtos: v.fileDescriptorProtos.map(fix) } : value;
  }
  return patched as protoLoader.PackageDefinition;
}

function entryName(fieldName: string): string {
  const camel = fieldName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

function fixMessage(m: IDescriptorProto): void {
  const nested = m.nestedType ?? [];
  for (const f of m.field ?? []) {
    const entry = nested.find((n) => n.options?.mapEntry && n.name === f.typeName);
    if (!entry || !f.name) continue;
    entry.name = entryName(f.name);
    f.typeName = entry.name;
  }
  for (const n of nested) fixMessage(n);
}
