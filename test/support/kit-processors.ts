// Small processors the kit's integration tests run (in the test process, or in a child process
// through run-processor.ts, which is why they live in a module and not in a test file).
import { defineProcessor, type ProcessorDefinition } from '../../lib/kit/processor.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';

export interface Counted {
  id: string;
  entity: string;
  count: number;
  total: number;
}

export const countedSchema = {
  type: 'record',
  name: 'Counted',
  namespace: 'io.kubetrail.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'entity', type: 'string' },
    { name: 'count', type: 'int' },
    { name: 'total', type: 'long' },
  ],
};

export interface Tally {
  count: number;
  total: number;
}

export const tallySchema = {
  type: 'record',
  name: 'Tally',
  namespace: 'io.kubetrail.test',
  fields: [
    { name: 'count', type: 'int' },
    { name: 'total', type: 'long' },
  ],
};

export type CounterDefinition = ProcessorDefinition<ResourceEvent, { counted: Counted; names: Counted }, Tally>;

/**
 * One Counted per input event, keyed by event id: the number of events seen so far for the event's
 * object name (state, per key) and a running total of their generations. Events whose name starts
 * with "boom" make process() throw; "bad-output" emits a value its schema rejects; "bad-state"
 * puts a state value its schema rejects. Names starting with "tomb" also write a tombstone to the
 * second output.
 */
export function counterProcessor(name = 'kit-counter'): CounterDefinition {
  return defineProcessor<ResourceEvent, { counted: Counted; names: Counted }, Tally>({
    name,
    description: 'counts events per object name (kit tests)',
    input: { topic: 'kit.raw', schema: resourceEventSchema },
    outputs: {
      counted: { topic: 'kit.counted', schema: countedSchema },
      names: { topic: 'kit.names', schema: countedSchema, compacted: true },
    },
    state: { store: 'tally', schema: tallySchema },
    process(record, { state }) {
      const event = record.value;
      if (event.name.startsWith('boom')) throw new RangeError(`boom at ${event.id}`);
      const previous = state.get(event.name) ?? { count: 0, total: 0 };
      const next = { count: previous.count + 1, total: previous.total + (event.generation ?? 0) };
      if (event.name.startsWith('bad-state')) state.put(event.name, { count: 'x' } as unknown as Tally);
      state.put(event.name, next);
      const counted = { id: event.id, entity: event.name, count: next.count, total: next.total };
      if (event.name.startsWith('bad-output')) return [{ output: 'counted', key: event.id, value: { ...counted, count: 'many' } as unknown as Counted }];
      const out: ReturnType<CounterDefinition['process']> = [{ output: 'counted', key: event.id, value: counted, headers: { 'kit-entity': event.name } }];
      if (event.name.startsWith('tomb')) out.push({ output: 'names', key: event.name, value: null });
      else out.push({ output: 'names', key: event.name, value: counted });
      return out;
    },
  });
}

/** No state: passes each event through, unchanged, keyed by id. */
export function passThroughProcessor(name = 'kit-pass'): ProcessorDefinition<ResourceEvent, { copy: ResourceEvent }> {
  return defineProcessor<ResourceEvent, { copy: ResourceEvent }>({
    name,
    description: 'copies events (kit tests)',
    input: { topic: 'kit.raw', schema: resourceEventSchema },
    outputs: { copy: { topic: 'kit.copy', schema: resourceEventSchema } },
    process(record) {
      return [{ output: 'copy', key: record.value.id, value: record.value }];
    },
  });
}

/** No state: writes `copies` copies of each event (outputs much larger than the input). */
export function fanOutProcessor(copies: number, name = 'kit-fan-out'): ProcessorDefinition<ResourceEvent, { copy: ResourceEvent }> {
  return defineProcessor<ResourceEvent, { copy: ResourceEvent }>({
    name,
    description: 'copies events several times (kit tests)',
    input: { topic: 'kit.raw', schema: resourceEventSchema },
    outputs: { copy: { topic: 'kit.copy', schema: resourceEventSchema } },
    process(record) {
      return Array.from({ length: copies }, (_, i) => ({ output: 'copy' as const, key: `${record.value.id}-${i}`, value: record.value }));
    },
  });
}

export const kitProcessors = { counter: counterProcessor, passThrough: passThroughProcessor };
