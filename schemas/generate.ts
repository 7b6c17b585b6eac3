// Generates TypeScript types from the Avro schemas, so each record shape is written once (in the
// .avsc) and the code cannot disagree with what is on the wire. Every schemas/*.avsc becomes
// schemas/generated/<name>.ts holding an interface per record, a string union per enum, and the
// schema itself as a const (what a ProcessorDefinition declares).
//
// Why not the npm package avro-typescript (1.1.0): it emits TypeScript `enum`s rather than string
// unions (avsc decodes enums to plain strings), marks every union with null as an optional `?`
// field typed `null | undefined`, ignores namespaces and docs, and writes `null | string[]` style
// precedence bugs for unions inside arrays. So this walks avsc's own parsed types instead: avsc
// validates the schema and resolves names, and the output follows avsc's runtime representation
// (including its choice of wrapped or unwrapped unions).
//
// Usage: `npm run schemas:generate` writes the files; `--check` only reports drift (exit 1).
import avro from 'avsc';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const schemasDir = dirname(fileURLToPath(import.meta.url));
export const generatedDir = join(schemasDir, 'generated');

export interface GeneratedFile {
  /** File name inside schemas/generated/. */
  fileName: string;
  content: string;
}

/** A named Avro type waiting to be written as a declaration. */
interface Declaration {
  fullName: string;
  type: avro.Type;
}

const primitiveTsTypes: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

/** `resource-event` → `resourceEvent`. */
function camelCase(stem: string): string {
  return stem.replace(/[-_.]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

function docComment(doc: string | undefined, indent: string): string {
  if (!doc) return '';
  const lines = doc.split('\n').map((line) => line.replace(/\*\//g, '*\\/'));
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function quoteKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** Generates one module from a parsed .avsc. `sourceName` is the .avsc file name, for the header. */
export function generateModule(schema: unknown, sourceName: string): string {
  // forSchema validates the schema (unknown types, bad defaults, duplicate names) and resolves
  // named references; unknown logical types are kept as their underlying type (a
  // timestamp-millis long stays a long, which avsc reads and writes as a number).
  const rootType = avro.Type.forSchema(schema as avro.Schema);

  const declarations: Declaration[] = [];
  const declared = new Map<string, avro.Type>();
  const shortNames = new Map<string, string>();

  function declare(type: avro.Type): string {
    const fullName = type.name;
    if (!fullName) throw new Error(`${sourceName}: a ${type.typeName} without a name`);
    const name = shortName(fullName);
    const clash = shortNames.get(name);
    if (clash !== undefined && clash !== fullName) {
      throw new Error(`${sourceName}: ${fullName} and ${clash} would both be called ${name} in TypeScript`);
    }
    if (!declared.has(fullName)) {
      shortNames.set(name, fullName);
      declared.set(fullName, type);
      declarations.push({ fullName, type });
      // Walk the fields now so nested declarations follow their parent in the output.
      if (type instanceof avro.types.RecordType) for (const field of type.fields) tsType(field.type);
    }
    return name;
  }

  function tsType(type: avro.Type): string {
    const typeName = type.typeName;
    const primitive = primitiveTsTypes[typeName];
    if (primitive !== undefined) return primitive;
    if (typeName === 'record' || typeName === 'error' || typeName === 'enum') return declare(type);
    if (typeName === 'fixed') return 'Buffer';
    if (type instanceof avro.types.ArrayType) {
      const items = tsType(type.itemsType);
      return /^[A-Za-z0-9_]+$/.test(items) ? `${items}[]` : `Array<${items}>`;
    }
    if (type instanceof avro.types.MapType) return `Record<string, ${tsType(type.valuesType as avro.Type)}>`;
    if (type instanceof avro.types.UnwrappedUnionType) {
      // avsc represents such a union's value as the branch value itself; null goes last by
      // convention (`string | null`).
      const branches = type.types.map(tsType);
      const withoutNull = branches.filter((b) => b !== 'null');
      return withoutNull.length === branches.length ? branches.join(' | ') : [...withoutNull, 'null'].join(' | ');
    }
    if (type instanceof avro.types.WrappedUnionType) {
      // Ambiguous unions (two numeric branches, say): avsc wraps non-null values as { branch: value }.
      const branches = type.types.map((branch) =>
        branch.typeName === 'null' ? 'null' : `{ ${quoteKey(branch.branchName ?? branch.typeName)}: ${tsType(branch)} }`,
      );
      const withoutNull = branches.filter((b) => b !== 'null');
      return withoutNull.length === branches.length ? branches.join(' | ') : [...withoutNull, 'null'].join(' | ');
    }
    if (type instanceof avro.types.LogicalType) return tsType(type.underlyingType);
    throw new Error(`${sourceName}: no TypeScript mapping for Avro type ${typeName}`);
  }

  tsType(rootType);
  if (declarations.length === 0) throw new Error(`${sourceName}: the top-level schema must be a named record or enum`);

  const stem = basename(sourceName, '.avsc');
  let out = `// Generated by schemas/generate.ts from schemas/${sourceName}: do not edit, run \`npm run schemas:generate\`.\n`;
  for (const { type } of declarations) {
    out += '\n';
    const name = shortName(type.name as string);
    if (type instanceof avro.types.EnumType) {
      out += docComment(type.doc, '');
      out += `export type ${name} = ${type.symbols.map((s) => JSON.stringify(s)).join(' | ')};\n`;
    } else if (type instanceof avro.types.RecordType) {
      out += docComment(type.doc, '');
      out += `export interface ${name} {\n`;
      for (const field of type.fields) {
        out += docComment((field as avro.types.Field & { doc?: string }).doc, '  ');
        out += `  ${quoteKey(field.name)}: ${tsType(field.type)};\n`;
      }
      out += '}\n';
    }
  }
  out += `\n/** The schema of ${shortName(declarations[0]!.fullName)} as parsed from schemas/${sourceName}. */\n`;
  out += `export const ${camelCase(stem)}Schema = ${JSON.stringify(schema, null, 2)} as const;\n`;
  return out;
}

/** Every schemas/*.avsc, generated, sorted by file name. */
export function generateAll(dir: string = schemasDir): GeneratedFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((sourceName) => {
      const text = readFileSync(join(dir, sourceName), 'utf8');
      let schema: unknown;
      try {
        schema = JSON.parse(text);
      } catch (error) {
        throw new Error(`${sourceName}: not JSON: ${(error as Error).message}`);
      }
      return { fileName: `${basename(sourceName, '.avsc')}.ts`, content: generateModule(schema, sourceName) };
    });
}

/** Files in schemas/generated/ that differ from what the schemas give, or have no schema. */
export function staleFiles(files: GeneratedFile[] = generateAll(), dir: string = generatedDir): string[] {
  const stale = files
    .filter((f) => !existsSync(join(dir, f.fileName)) || readFileSync(join(dir, f.fileName), 'utf8') !== f.content)
    .map((f) => f.fileName);
  const expected = new Set(files.map((f) => f.fileName));
  const orphans = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts') && !expected.has(f)) : [];
  return [...stale, ...orphans].sort();
}

function main(args: string[]): number {
  const files = generateAll();
  if (args.includes('--check')) {
    const stale = staleFiles(files);
    if (stale.length > 0) {
      console.error(`schemas/generated is out of date (${stale.join(', ')}): run npm run schemas:generate`);
      return 1;
    }
    return 0;
  }
  mkdirSync(generatedDir, { recursive: true });
  for (const file of files) writeFileSync(join(generatedDir, file.fileName), file.content);
  console.log(`generated ${files.map((f) => `schemas/generated/${f.fileName}`).join(', ')}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
