// Completed-workflow records for sink tests and the sink benchmark: raw events of finished Argo
// workflows as completed-filter passes them on (the producer's key and headers, CloudEvents ones
// included), written to a topic through the registry.
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { recordHeaders } from '../../producer/mapping.js';
import { rawEventFor } from '../fixtures/workflows.js';
import type { RawWriter } from './kit-helpers.js';

export const sinkNamespace = 'sink-test';

/** Workflow `name` at resourceVersion `rv`, finished (Failed with one failed step when `failed`). */
export function completedEvent(name: string, rv: number, failed = false): ResourceEvent {
  const started = Date.UTC(2026, 10, 30, 12, 0, 0);
  const object = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name, namespace: sinkNamespace, uid: `uid-${name}`, resourceVersion: String(rv), labels: { team: 'sinks', 'workflows.argoproj.io/completed': 'true' } },
    spec: {},
    status: {
      phase: failed ? 'Failed' : 'Succeeded',
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(started + 65_000 + rv * 1000).toISOString(),
      message: failed ? 'child failed' : null,
      progress: failed ? '1/2' : '2/2',
      nodes: failed
        ? { [`${name}-1`]: { id: `${name}-1`, name: `${name}.main`, displayName: 'main', type: 'Pod', phase: 'Failed', message: 'Error (exit code 3)', outputs: { exitCode: '3' } } }
        : {},
    },
  };
  return rawEventFor(object, 'MODIFIED');
}

/** Writes the events keyed as the producer keys them, with the producer's headers. */
export async function writeCompleted(writer: RawWriter, registry: SchemaRegistry, events: ResourceEvent[]): Promise<void> {
  const messages = await Promise.all(
    events.map(async (event) => ({
      key: `workflows.argoproj.io/${event.namespace}/${event.name}`,
      value: await registry.encode(writer.schemaId, event),
      headers: recordHeaders(event, writer.topic),
    })),
  );
  await writer.writeRaw(messages);
}
