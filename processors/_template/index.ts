// _template: copy this folder to processors/<your-name>/ to start a processor (see
// processors/README.md). As a template it is never run: discovery skips folders starting with '_'.
//
// What it does, as an example of each part of a definition: counts the changes of every object
// of the raw topic (keyed state), and keeps the latest count per object in a compacted output
// topic, with a tombstone when the object is deleted.
import { z } from 'zod';
import { defineProcessor, type ProcessorDefinition } from '../../lib/kit/processor.js';
import { optionsFromEnv } from '../../lib/kit/options.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';

/** The name: the folder name, the consumer group and the prefix of its state and dead-letter topics. */
export const templateName = 'template';

// Schemas. Here inline to keep the template in one file; in a real processor write them as
// schemas/<name>.avsc and run `npm run schemas:generate`, which writes the interface and the
// schema const to schemas/generated/<name>.ts (see processors/workflow-summary/index.ts).

export interface ObjectChanges {
  /** The raw record key: resource, namespace and name of the object. */
  object: string;
  kind: string;
  namespace: string | null;
  name: string;
  changes: number;
  lastOperation: string;
  /** source.observedAt of the last change, milliseconds since the epoch. */
  lastObservedAt: number;
}

export const objectChangesSchema = {
  type: 'record',
  name: 'ObjectChanges',
  namespace: 'io.kubetrail.template',
  doc: 'How many changes of one Kubernetes object were seen (template processor).',
  fields: [
    { name: 'object', type: 'string' },
    { name: 'kind', type: 'string' },
    { name: 'namespace', type: ['null', 'string'], default: null },
    { name: 'name', type: 'string' },
    { name: 'changes', type: 'long' },
    { name: 'lastOperation', type: 'string' },
    { name: 'lastObservedAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

/** State per object; kept in Kafka (`<group>-changes-changelog`) and restored on restart. */
export interface ChangesState {
  changes: number;
}

export const changesStateSchema = {
  type: 'record',
  name: 'ChangesState',
  namespace: 'io.kubetrail.template',
  fields: [{ name: 'changes', type: 'long' }],
};

// Options: read from KUBETRAIL_TEMPLATE_<OPTION> (KUBETRAIL_TEMPLATE_KINDS=Workflow,Pod).
export const templateOptionsSchema = z.object({
  /** Kinds to count; empty counts every kind. */
  kinds: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
    .default([]),
});
export type TemplateOptions = z.output<typeof templateOptionsSchema>;

export type TemplateDefinition = ProcessorDefinition<ResourceEvent, { changes: ObjectChanges }, ChangesState>;

/** The definition for given options: what unit tests call. */
export function createTemplate(options: Partial<TemplateOptions> = {}): TemplateDefinition {
  const kinds = new Set(options.kinds ?? []);
  return defineProcessor<ResourceEvent, { changes: ObjectChanges }, ChangesState>({
    name: templateName,
    description: 'Number of changes seen per Kubernetes object (template)',
    input: { topic: 'kubetrail.raw', schema: resourceEventSchema },
    outputs: { changes: { topic: 'kubetrail.template.changes', schema: objectChangesSchema, compacted: true } },
    state: { store: 'changes', schema: changesStateSchema },
    // Pure apart from the state: no I/O, no clock (use the record's timestamps), no randomness.
    // Throwing sends the input record to the dead-letter topic; the processor goes on.
    process(record, { state }) {
      const event = record.value;
      if (kinds.size > 0 && !kinds.has(event.resource.kind)) return [];
      const object = record.key ?? event.uid;
      // READ is a re-list, not a change: do not count it (and do not emit).
      if (event.operation === 'READ') return [];
      if (event.operation === 'DELETED') {
        state.delete(object);
        return [{ output: 'changes', key: object, value: null }];
      }
      const changes = (state.get(object)?.changes ?? 0) + 1;
      state.put(object, { changes });
      return [
        {
          output: 'changes',
          key: object,
          value: {
            object,
            kind: event.resource.kind,
            namespace: event.namespace,
            name: event.name,
            changes,
            lastOperation: event.operation,
            lastObservedAt: event.source.observedAt,
          },
        },
      ];
    },
  });
}

/** What `kubetrail process <name>` runs: the definition with options from the environment. */
export default createTemplate(optionsFromEnv(templateName, templateOptionsSchema));
