// The producer's pure parts: event → record mapping and key, Secret redaction, trimming, the
// bounded queue, the leader choice and record chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import avsc from 'avsc';
import { changeId, resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { inferredDeletion, metaOf, recordHeaders, recordKey, toResourceEvent, type SourceContext } from '../../producer/mapping.js';
import { lastAppliedAnnotation, redactSecret, redactedValue } from '../../producer/redact.js';
import { trimmedVersions } from '../../producer/trim.js';
import { BoundedQueue, type ChangeItem } from '../../producer/queue.js';
import { chooseLeader } from '../../producer/leader.js';
import { chunkRecords, encodeRecord } from '../../producer/publisher.js';
import { applyStateRecord, parseStateKey, stateKeys, type StateSnapshot } from '../../producer/state.js';

const fixtures = join('test', 'fixtures', 'argo-workflows', 'workflows');
const fixture = (name: string) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;
const ctx: SourceContext = { cluster: 'c1', group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow', producer: 'p-1' };

test('a watched Workflow maps to a ResourceEvent with the contract id, key and headers', () => {
  const wf = fixture('dag-diamond-82q7s-1e994e4481.json');
  const meta = metaOf(wf);
  assert.equal(meta.name, 'dag-diamond-82q7s');
  assert.equal(meta.namespace, 'argo');
  assert.equal(meta.generation, 16);
  assert.equal(meta.creationTimestamp, Date.parse('2024-10-01T04:27:23Z'));
  const event = toResourceEvent(ctx, { operation: 'MODIFIED', meta, objectJson: JSON.stringify(wf), observedAt: 5 });
  assert.equal(event.id, changeId({ cluster: 'c1', group: 'argoproj.io', resource: 'workflows', uid: meta.uid, resourceVersion: '4633' }));
  assert.deepEqual(event.resource, { group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow' });
  assert.equal(event.labels['workflows.argoproj.io/phase'], 'Succeeded');
  assert.deepEqual(JSON.parse(event.object), wf);
  assert.deepEqual(event.source, { cluster: 'c1', producer: 'p-1', observedAt: 5, inferred: false });
  // The value is valid against the contract.
  const type = avsc.Type.forSchema(resourceEventSchema as unknown as avsc.Schema);
  assert.ok(type.isValid(event), 'valid ResourceEvent');
  assert.equal(recordKey(ctx, 'argo', 'dag-diamond-82q7s'), 'workflows.argoproj.io/argo/dag-diamond-82q7s');
  assert.equal(recordKey(ctx, null, 'x'), 'workflows.argoproj.io/x');
  assert.equal(recordKey({ group: '', resource: 'secrets' }, 'ns', 's'), 'secrets/ns/s');
  // CloudEvents binary-mode Kafka headers ride along with kubetrail's own.
  assert.deepEqual(recordHeaders(event, 'kubetrail.raw'), {
    'kubetrail-operation': 'MODIFIED',
    'kubetrail-id': event.id,
    ce_specversion: '1.0',
    ce_id: event.id,
    ce_source: '/kubetrail/c1/workflows.argoproj.io',
    ce_type: 'io.kubetrail.resource.modified',
    ce_time: '1970-01-01T00:00:00.005Z',
    ce_subject: `${event.namespace}/${event.name}`,
    'content-type': 'application/avro; subject=kubetrail.raw-value',
  });
});

test('every fixture maps to a valid ResourceEvent', () => {
  const type = avsc.Type.forSchema(resourceEventSchema as unknown as avsc.Schema);
  for (const file of readdirSync(fixtures)) {
    const wf = fixture(file);
    const meta = metaOf({ ...wf, metadata: { uid: 'u', resourceVersion: '1', ...(wf.metadata as object) } });
    const event = toResourceEvent(ctx, { operation: 'READ', meta, objectJson: JSON.stringify(wf), observedAt: 1 });
    assert.ok(type.isValid(event), file);
  }
});

test('objects without identity are refused; an inferred deletion has its own id', () => {
  assert.throws(() => metaOf({ metadata: { name: 'x' } }), /uid/);
  assert.throws(() => metaOf('nope'), /metadata/);
  const { meta, objectJson } = inferredDeletion(ctx, { uid: 'u1', namespace: 'ns', name: 'wf', resourceVersion: '10' }, '99');
  assert.equal(meta.resourceVersion, '99');
  assert.deepEqual(JSON.parse(objectJson), { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: 'wf', uid: 'u1', resourceVersion: '99', namespace: 'ns' } });
  const event = toResourceEvent(ctx, { operation: 'DELETED', meta, objectJson, observedAt: 1, inferred: true });
  assert.notEqual(event.id, changeId({ ...ctx, uid: 'u1', resourceVersion: '10' }));
  assert.equal(recordHeaders(event, 'kubetrail.raw')['kubetrail-inferred'], 'true');
});

test('Secret values and the last-applied annotation never stay in clear', () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', annotations: { [lastAppliedAnnotation]: '{"data":{"password":"aHVudGVyMg=="}}', other: 'kept' } },
    data: { password: 'aHVudGVyMg==', user: 'YWRtaW4=' },
    stringData: { token: 'abc' },
  };
  const redacted = redactSecret('', 'secrets', secret);
  assert.deepEqual(redacted.sort(), ['data.password', 'data.user', `metadata.annotations.${lastAppliedAnnotation}`, 'stringData.token'].sort());
  const text = JSON.stringify(secret);
  for (const clear of ['aHVudGVyMg==', 'YWRtaW4=', 'abc']) assert.ok(!text.includes(clear), `${clear} redacted`);
  assert.equal(secret.data.password, redactedValue);
  assert.equal(secret.metadata.annotations.other, 'kept');
  // Other kinds are untouched.
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };
  assert.deepEqual(redactSecret('', 'configmaps', cm), []);
  assert.equal(cm.data.a, 'b');
});

test('trimming removes status.nodes, then managedFields, then to a summary, then to identity', () => {
  const wf = fixture('dag-diamond-82q7s-1e994e4481.json');
  (wf.metadata as Record<string, unknown>).managedFields = [{ manager: 'x' }];
  const versions = [...trimmedVersions(JSON.stringify(wf))];
  assert.deepEqual(versions[0]!.trimmed, ['status.nodes']);
  assert.deepEqual(versions[1]!.trimmed, ['status.nodes', 'metadata.managedFields']);
  const summary = JSON.parse(versions[2]!.objectJson);
  assert.deepEqual(Object.keys(summary.status).sort(), ['finishedAt', 'phase', 'progress', 'startedAt'].filter((k) => k in summary.status).sort());
  assert.equal(summary.status.phase, 'Succeeded');
  assert.ok(versions[2]!.trimmed.includes('spec.templates'));
  assert.ok(versions[2]!.trimmed.includes('metadata.annotations'));
  assert.equal(summary.spec.entrypoint, 'diamond');
  const identity = JSON.parse(versions[3]!.objectJson);
  assert.deepEqual(Object.keys(identity).sort(), ['apiVersion', 'kind', 'metadata', 'status']);
  assert.deepEqual(identity.status, { phase: 'Succeeded' });
  assert.equal(identity.metadata.uid, 'dd3d2674-43d8-446a-afdf-17ec95afade2');
  assert.ok(versions[3]!.trimmed.includes('spec'));
  const last = versions[versions.length - 1]!;
  assert.ok(last.labelsRemoved);
});

/** A stand-in for the registry's encode: the Confluent framing around avsc's encoding. */
const avroType = avsc.Type.forSchema(resourceEventSchema as unknown as avsc.Schema);
const fakeRegistry = {
  encode: async (id: number, value: unknown) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, avroType.toBuffer(value)]);
  },
} as never;

function bigWorkflow(nodes: number, random: boolean): Record<string, unknown> {
  const wf = fixture('dag-diamond-82q7s-1e994e4481.json');
  const status = wf.status as Record<string, unknown>;
  const all: Record<string, unknown> = {};
  for (let i = 0; i < nodes; i += 1) {
    const id = `dag-diamond-82q7s-${i}`;
    all[id] = { id, name: id, displayName: `step-${i}`, phase: 'Succeeded', message: random ? Math.random().toString(36).repeat(8) : 'ok', type: 'Pod' };
  }
  status.nodes = all;
  return wf;
}

test('an oversized object is sent whole when it fits compressed, trimmed when it does not, never dropped', async () => {
  const options = { topic: 'kubetrail.raw', registry: fakeRegistry, schemaId: 7, maxRecordBytes: 1_000_000, compression: 'gzip' as const };
  const compressible = bigWorkflow(8_000, false);
  const text = JSON.stringify(compressible);
  assert.ok(text.length > 1_048_576, `fixture is ${text.length} bytes`);
  const event = (object: string): ResourceEvent => toResourceEvent(ctx, { operation: 'MODIFIED', meta: metaOf(compressible), objectJson: object, observedAt: 1 });
  const whole = await encodeRecord(event(text), 'k', options);
  assert.equal(whole.alone, true);
  assert.deepEqual(whole.trimmed, []);
  const noisy = JSON.stringify(bigWorkflow(8_000, true));
  const trimmed = await encodeRecord(event(noisy), 'k', { ...options, compression: 'none' });
  assert.deepEqual(trimmed.trimmed, ['status.nodes']);
  assert.ok(trimmed.bytes <= 1_000_000);
  const decoded = avroType.fromBuffer((trimmed.message.value as Buffer).subarray(5)) as ResourceEvent;
  assert.equal(JSON.parse(decoded.object).status.nodes, undefined);
  assert.equal(JSON.parse(decoded.object).status.phase, 'Succeeded');
  assert.equal(trimmed.message.headers?.['kubetrail-trimmed'], 'status.nodes');
  // A tiny limit still gives a record (identity only).
  const tiny = await encodeRecord(event(noisy), 'k', { ...options, maxRecordBytes: 900, compression: 'none' });
  assert.ok(tiny.trimmed.includes('spec'), tiny.trimmed.join());
});

test('records are chunked so no send exceeds the limit, oversized ones alone', () => {
  const m = (n: number) => ({ message: { key: String(n), value: Buffer.alloc(1) }, bytes: n });
  const chunks = chunkRecords([m(400), m(400), m(400), { ...m(2000), alone: true }, m(100)], 1000);
  assert.deepEqual(chunks.map((c) => c.map((x) => x.key)), [['400', '400'], ['400'], ['2000'], ['100']]);
});

test('the queue is bounded in events and bytes, and lets one huge item in when empty', async () => {
  const item = (size: number): ChangeItem => ({
    type: 'change',
    scope: '*',
    operation: 'ADDED',
    inferred: false,
    meta: metaOf({ metadata: { name: 'a', uid: 'u', resourceVersion: '1' } }),
    objectJson: 'x'.repeat(size),
    observedAt: 0,
    publish: true,
  });
  const q = new BoundedQueue(3, 10_000);
  assert.equal(q.tryPush(item(20_000)), 1, 'huge item alone');
  assert.equal(q.tryPush(item(10)), undefined, 'bytes full');
  assert.equal((await q.take(10))!.length, 1);
  assert.ok(q.tryPush(item(10)));
  assert.ok(q.tryPush(item(10)));
  assert.ok(q.tryPush(item(10)));
  assert.equal(q.tryPush(item(10)), undefined, 'events full');
  let roomed = false;
  const room = q.waitForRoom().then(() => (roomed = true));
  await q.take(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(roomed, false, 'still more than half full');
  await q.take(1);
  await room;
  assert.equal(q.lastSeq, 4);
  q.close();
  assert.equal(await q.take(1), undefined);
  const b = new BoundedQueue(10, 100_000);
  for (let i = 0; i < 4; i += 1) b.tryPush(item(10_000));
  assert.equal((await b.take(10, undefined, 25_000))!.length, 2, 'a batch stops at its byte budget');
  assert.equal((await b.take(10, undefined, 1))!.length, 1, 'but takes at least one item');
});

test('the leader is the member that claims it most recently, else the oldest', () => {
  const claim = (leading: boolean, since: number, startedAt: number) => ({ leading, since, startedAt, instance: 'i' });
  assert.equal(chooseLeader([{ memberId: 'a', claim: claim(false, 0, 5) }, { memberId: 'b', claim: claim(true, 10, 9) }]), 'b');
  assert.equal(chooseLeader([{ memberId: 'a', claim: claim(true, 5, 1) }, { memberId: 'b', claim: claim(true, 10, 9) }]), 'b');
  assert.equal(chooseLeader([{ memberId: 'a', claim: claim(false, 0, 5) }, { memberId: 'b', claim: claim(false, 0, 3) }]), 'b');
  assert.equal(chooseLeader([{ memberId: 'z', claim: undefined }, { memberId: 'y', claim: undefined }]), 'y');
  assert.equal(chooseLeader([]), undefined);
});

test('the state topic layout: checkpoints, index entries and tombstones fold into a snapshot', () => {
  assert.equal(stateKeys.checkpoint('s', '*'), 's/checkpoint/*');
  assert.deepEqual(parseStateKey('s', 's/object/u1'), { type: 'object', id: 'u1' });
  assert.equal(parseStateKey('s', 'other/object/u1'), undefined);
  assert.deepEqual(parseStateKey('s', 's/leader'), { type: 'leader' });
  const snapshot: StateSnapshot = { checkpoints: new Map(), index: new Map(), records: 0 };
  const put = (key: string, value: unknown) => applyStateRecord('s', snapshot, key, value === null ? null : Buffer.from(JSON.stringify(value)), (e) => e.namespace === 'a');
  put('s/checkpoint/a', { resourceVersion: '5', selection: 'x', producer: 'p', at: 1 });
  put('s/object/u1', { namespace: 'a', name: 'w1', resourceVersion: '3' });
  put('s/object/u2', { namespace: 'b', name: 'w2', resourceVersion: '4' });
  put('s/object/u3', { namespace: 'a', name: 'w3', resourceVersion: '4' });
  put('s/object/u3', null);
  const marker = put('s/leader', { producer: 'p', nonce: 'n1', at: 1 });
  assert.equal(marker?.nonce, 'n1');
  assert.equal(snapshot.checkpoints.get('a')?.resourceVersion, '5');
  assert.deepEqual([...snapshot.index!.keys()], ['u1']);
});

test('errors: HTTP statuses from client-node, not Kafka error codes; network errors are retried', async () => {
  const { statusOf } = await import('../../producer/kube.js');
  const { isKafkaError, isNetworkError } = await import('../../producer/source.js');
  assert.equal(statusOf({ code: 410, body: {} }), 410);
  assert.equal(statusOf({ statusCode: 404 }), 404);
  assert.equal(statusOf({ name: 'KafkaJSProtocolError', code: 6 }), undefined);
  assert.equal(statusOf({ code: 6 }), undefined);
  assert.equal(statusOf(new Error('x')), undefined);
  assert.equal(isKafkaError({ name: 'KafkaJSConnectionError' }), true);
  assert.equal(isNetworkError({ code: 'ECONNREFUSED' }), true);
  assert.equal(isNetworkError(new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } })), true);
  assert.equal(isNetworkError(new Error('bug')), false);
});
