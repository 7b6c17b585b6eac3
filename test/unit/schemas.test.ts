import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { generateAll, generateModule, schemasDir, staleFiles } from '../../schemas/generate.js';

describe('generated schema types', () => {
  test('regenerating gives exactly the committed files in schemas/generated', () => {
    const files = generateAll();
    assert.deepEqual(
      files.map((f) => f.fileName),
      readdirSync(schemasDir)
        .filter((f) => f.endsWith('.avsc'))
        .sort()
        .map((f) => f.replace(/\.avsc$/, '.ts')),
    );
    assert.deepEqual(staleFiles(files), [], 'schemas/generated is out of date: run npm run schemas:generate');
  });

  test('drift is detected: a changed, missing or orphan file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubetrail-gen-'));
    const files = generateAll();
    for (const f of files) writeFileSync(join(dir, f.fileName), f.content);
    assert.deepEqual(staleFiles(files, dir), []);
    writeFileSync(join(dir, files[0]!.fileName), files[0]!.content.replace('string', 'number'));
    writeFileSync(join(dir, 'orphan.ts'), '');
    assert.deepEqual(staleFiles(files, dir), [files[0]!.fileName, 'orphan.ts'].sort());
  });

  test('mapping: enums to string unions, nullable unions, maps, arrays, logical longs, nested records, docs', () => {
    const out = generateModule(
      {
        type: 'record',
        name: 'Thing',
        namespace: 'io.example',
        doc: 'A thing.',
        fields: [
          { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] }, doc: 'Which kind.' },
          { name: 'maybe', type: ['null', 'string'], default: null },
          { name: 'when', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }], default: null },
          { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
          { name: 'tags', type: { type: 'map', values: 'string' } },
          { name: 'parts', type: { type: 'array', items: { type: 'record', name: 'Part', fields: [{ name: 'n', type: 'int' }] } } },
          { name: 'maybeParts', type: { type: 'array', items: ['null', 'Part'] } },
          { name: 'again', type: 'io.example.Kind' },
          { name: 'blob', type: 'bytes' },
          { name: 'ratio', type: ['int', 'double'] },
        ],
      },
      'thing.avsc',
    );
    assert.match(out, /\/\*\* A thing\. \*\/\nexport interface Thing \{/);
    assert.match(out, /\/\*\* Which kind\. \*\/\n  kind: Kind;/);
    assert.match(out, /export type Kind = "A" \| "B";/);
    assert.match(out, /  maybe: string \| null;/);
    assert.match(out, /  when: number \| null;/);
    assert.match(out, /  at: number;/);
    assert.match(out, /  tags: Record<string, string>;/);
    assert.match(out, /  parts: Part\[\];/);
    assert.match(out, /  maybeParts: Array<Part \| null>;/);
    assert.match(out, /  again: Kind;/);
    assert.match(out, /  blob: Buffer;/);
    assert.match(out, /  ratio: \{ int: number \} \| \{ double: number \};/); // avsc wraps ambiguous unions
    assert.match(out, /export interface Part \{\n  n: number;\n\}/);
    assert.match(out, /export const thingSchema = \{/);
    assert.equal(out.match(/export type Kind/g)?.length, 1);
  });

  test('invalid schemas and short-name clashes are refused', () => {
    assert.throws(() => generateModule({ type: 'record', name: 'R', fields: [{ name: 'x', type: 'nope' }] }, 'r.avsc'), /nope/);
    assert.throws(
      () =>
        generateModule(
          {
            type: 'record',
            name: 'a.R',
            fields: [
              { name: 'x', type: { type: 'record', name: 'b.Same', fields: [] } },
              { name: 'y', type: { type: 'record', name: 'c.Same', fields: [] } },
            ],
          },
          'r.avsc',
        ),
      /b\.Same and c\.Same|c\.Same and b\.Same/,
    );
    assert.throws(() => generateModule('string', 's.avsc'), /named record or enum/);
  });

  test('every schema parses with avsc and documents each field', async () => {
    for (const f of generateAll()) {
      const module = (await import(`../../schemas/generated/${f.fileName.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>;
      const schema = Object.entries(module).find(([name]) => name.endsWith('Schema'))?.[1] as { fields: Array<{ name: string; doc?: string; type: unknown }> };
      assert.ok(avro.Type.forSchema(schema as unknown as avro.Schema));
      if (f.fileName === 'resource-event.ts') continue; // owned elsewhere
      const undocumented: string[] = [];
      const visit = (fields: Array<{ name: string; doc?: string; type: unknown }>, path: string) => {
        for (const field of fields) {
          if (!field.doc) undocumented.push(`${path}${field.name}`);
          const t = field.type as { type?: string; fields?: typeof fields; items?: { fields?: typeof fields } };
          if (t?.type === 'record' && t.fields) visit(t.fields, `${path}${field.name}.`);
          if (t?.type === 'array' && t.items?.fields) visit(t.items.fields, `${path}${field.name}[].`);
        }
      };
      visit(schema.fields, `${f.fileName}: `);
      assert.deepEqual(undocumented, []);
    }
  });
});
