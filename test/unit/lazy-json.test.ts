import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { membersContaining, parseLazily, unparsedMember, type LazyPaths } from '../../lib/lazy-json.js';
import { bulkyMembers, nodesForFailures, readWorkflow } from '../../lib/argo-workflow.js';
import { failedSteps } from '../../processors/workflow-summary/summary.js';
import { loadAllWorkflows, rawEventFor } from '../fixtures/workflows.js';
import { prng } from '../support/bad-input-corpus.js';
import { buildTemplates, workloadEvents } from '../../bench/lib/workload.js';

const workflowPaths: LazyPaths = bulkyMembers;

/** What parseLazily gives with every lazy member read, as JSON.parse would show it; or JSON.parse's error. */
function outcome(parse: () => unknown): { json: string; keys: string } | { error: string } {
  try {
    const value = parse();
    // JSON.stringify reads every member (the lazy ones through their getters); keys shows the order.
    return { json: JSON.stringify(value), keys: JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : v)) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

function assertSameAsJsonParse(text: string, paths: LazyPaths, label: string): void {
  assert.deepEqual(outcome(() => parseLazily(text, paths)), outcome(() => JSON.parse(text)), label);
}

const fixtureTexts = loadAllWorkflows().map(({ name, object }) => ({ name, text: JSON.stringify(object) }));

describe('lazy JSON', () => {
  test('gives what JSON.parse gives, for all 67 fixtures, compact and indented', () => {
    assert.equal(fixtureTexts.length, 67);
    for (const { name, text } of fixtureTexts) {
      assertSameAsJsonParse(text, workflowPaths, name);
      assertSameAsJsonParse(JSON.stringify(JSON.parse(text), null, 2), workflowPaths, `${name}, indented`);
      const value = parseLazily(text, workflowPaths) as { status?: object };
      assert.deepEqual(value, JSON.parse(text), name);
    }
  });

  test('gives what JSON.parse gives for odd but valid JSON', () => {
    const cases = [
      '[]',
      '"a"',
      '5',
      '{}',
      ' { } ',
      '{"status":{}}',
      '{"status":{"nodes":{}}}',
      '{"status":{"nodes":[]}}',
      '{"status":{"nodes":"text"}}',
      '{"status":{"nodes":null}}',
      '{"status":{"nodes":-0.5e+10}}',
      '{"status":5,"spec":[1,2],"metadata":"m"}',
      '{"status":{"nodes":{"a":1},"nodes":{"b":2}}}',
      '{"status":{"nodes":{"a":1}},"status":{"phase":"Running"}}',
      '{"__proto__":{"polluted":true},"status":{"nodes":{"__proto__":{"x":1}}}}',
      '{"st\\u0061tus":{"nodes":{"k\\"ey":"v\\\\al\\/ue\\n\\u00e9"}}}',
      '{"status":{"nodes":{"a":[0,-0,1.5,-2E-3,1e10,true,false,null,"",[],{},[[{"b":[]}]]]}}}',
      '{ "status" : { "nodes" : { "a" : [ 1 , { "b" : 2 } ] , "c" : "d" } } , "x" : 1 }',
      '{"status":{"nodes":{"ü":"日本語 \ud83d\ude00","\ud800":"lone surrogate"}}}',
      '{"1":"integer key","status":{"nodes":{"2":"b","1":"a"}},"0":"first"}',
    ];
    for (const text of cases) assertSameAsJsonParse(text, workflowPaths, text);
  });

  test('throws exactly when JSON.parse throws, with its error, also for faults inside lazy members', () => {
    const cases = [
      '',
      ' ',
      '{"status":{"nodes":{"a":01}}}',
      '{"status":{"nodes":{"a":1.}}}',
      '{"status":{"nodes":{"a":.5}}}',
      '{"status":{"nodes":{"a":+1}}}',
      '{"status":{"nodes":{"a":-}}}',
      '{"status":{"nodes":{"a":1e}}}',
      '{"status":{"nodes":{"a":[1,]}}}',
      '{"status":{"nodes":{"a":1,}}}',
      '{"status":{"nodes":{"a" 1}}}',
      '{"status":{"nodes":{"a":1 "b":2}}}',
      '{"status":{"nodes":{a:1}}}',
      '{"status":{"nodes":{"a":tru}}}',
      '{"status":{"nodes":{"a":nul}}}',
      '{"status":{"nodes":{"a":True}}}',
      '{"status":{"nodes":{"a":"\u0001"}}}',
      '{"status":{"nodes":{"a":"tab\there"}}}',
      '{"status":{"nodes":{"a":"\\x"}}}',
      '{"status":{"nodes":{"a":"\\u12"}}}',
      '{"status":{"nodes":{"a":"open}}}',
      '{"status":{"nodes":{"a":{}}}',
      '{"status":{"nodes":{"a":{}}}}}',
      '{"status":{"nodes":{"a":[}}}',
      '{"status":{"nodes":{"a":1}}} x',
      '{"status":{"nodes":{"a":1}}}{}',
    ];
    for (const text of cases) {
      const expected = outcome(() => JSON.parse(text));
      assert.ok('error' in expected, `JSON.parse accepts ${text}`);
      assert.deepEqual(outcome(() => parseLazily(text, workflowPaths)), expected, text);
    }
  });

  test('agrees with JSON.parse on 4,000 seeded mutations of the fixtures (valid or not, same value or same error)', () => {
    const random = prng(20261201);
    const inserts = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\"', ' ', '0', '1', '-', '.', 'e', 'a', 't', 'n', '\n', '\u0007'];
    let invalid = 0;
    for (let n = 0; n < 4000; n++) {
      const { name, text } = fixtureTexts[Math.floor(random() * fixtureTexts.length)]!;
      // Most of a workflow's text is in status.nodes: mutate there as often as anywhere.
      const at = Math.floor(random() * text.length);
      const kind = Math.floor(random() * 3);
      const insert = inserts[Math.floor(random() * inserts.length)]!;
      const mutated = kind === 0 ? text.slice(0, at) + text.slice(at + 1) : kind === 1 ? text.slice(0, at) + insert + text.slice(at) : text.slice(0, at) + insert + text.slice(at + 1);
      const expected = outcome(() => JSON.parse(mutated));
      if ('error' in expected) invalid++;
      assert.deepEqual(outcome(() => parseLazily(mutated, workflowPaths)), expected, `${name}, mutation ${n} at ${at}`);
    }
    // Enough of both kinds for the comparison to mean something.
    assert.ok(invalid > 1000 && invalid < 3900, `${invalid} of 4000 mutations invalid`);
  });

  test('a lazy member keeps its text until read, then is a plain value', () => {
    const value = parseLazily('{"status":{"phase":"Running","nodes":{"a":{"phase":"Failed"}}}}', workflowPaths) as { status: Record<string, unknown> };
    assert.equal(unparsedMember(value.status, 'nodes'), '{"a":{"phase":"Failed"}}');
    assert.equal(unparsedMember(value.status, 'phase'), undefined);
    assert.deepEqual(value.status.nodes, { a: { phase: 'Failed' } });
    assert.equal(unparsedMember(value.status, 'nodes'), undefined);
    assert.equal(Object.getOwnPropertyDescriptor(value.status, 'nodes')?.writable, true);
    const written = parseLazily('{"status":{"nodes":{"a":1}}}', workflowPaths) as { status: Record<string, unknown> };
    written.status.nodes = 'replaced';
    assert.equal(unparsedMember(written.status, 'nodes'), undefined);
    assert.deepEqual(written, { status: { nodes: 'replaced' } });
  });

  test('membersContaining parses only the members that hold a needle, as JSON.parse gives them', () => {
    const text = '{"status":{"nodes":{"a":{"phase":"Succeeded"},"b":{"phase":"Failed","x":[1,{"y":"z"}]} , "c":{"children":["a"]},"Failed":{"p":1},"d":{"m":"Error"}}}}';
    const value = parseLazily(text, workflowPaths) as { status: Record<string, unknown> };
    const picked = membersContaining(value.status, 'nodes', ['Failed"', 'Error"']);
    const all = (JSON.parse(text) as { status: { nodes: Record<string, unknown> } }).status.nodes;
    assert.deepEqual(picked, { b: all.b, Failed: all.Failed, d: all.d });
    assert.deepEqual(Object.keys(picked!), ['b', 'Failed', 'd']);
    assert.deepEqual(membersContaining(value.status, 'nodes', ['nowhere']), {});
    // Still unparsed, and whole when read.
    assert.deepEqual(value.status.nodes, all);
    assert.equal(membersContaining(value.status, 'nodes', ['Failed"']), undefined, 'read already');
    const notAnObject = parseLazily('{"status":{"nodes":["Failed"]}}', workflowPaths) as { status: object };
    assert.equal(membersContaining(notAnObject.status, 'nodes', ['Failed"']), undefined);
  });

  test('membersContaining leaves the choice to a whole parse when a key found repeats, or the text has a backslash', () => {
    const pick = (text: string) => membersContaining((parseLazily(text, workflowPaths) as { status: object }).status, 'nodes', ['Failed"']);
    // JSON.parse keeps the last "a", which has no needle.
    assert.equal(pick('{"status":{"nodes":{"a":{"phase":"Failed"},"b":{"x":"a"},"a":{"phase":"Succeeded"}}}}'), undefined);
    // "a" as a value, or inside another key, is no repeat.
    assert.deepEqual(pick('{"status":{"nodes":{"a":{"phase":"Failed"},"b":{"x":"a"},"xa":{"y":1}}}}'), { a: { phase: 'Failed' } });
    assert.equal(pick('{"status":{"nodes":{"a\\"b":{"phase":"Failed"}}}}'), undefined);
    assert.deepEqual(pick('{"status":{"nodes":{"a":{"phase":"Succeeded"}}}}'), {});
  });

  test('membersContaining parses the whole object instead when more than a few members hold a needle (a search per key would cost more)', () => {
    const nodes = (failed: number) => `{${Array.from({ length: failed }, (_, k) => `"n${k}":{"phase":"Failed"}`).concat('"ok":{"phase":"Succeeded"}').join(',')}}`;
    const pick = (text: string) => membersContaining((parseLazily(`{"status":{"nodes":${text}}}`, workflowPaths) as { status: object }).status, 'nodes', ['Failed"']);
    assert.equal(Object.keys(pick(nodes(8))!).length, 8);
    assert.equal(pick(nodes(9)), undefined);
  });
});

describe('failed nodes of a lazily read workflow', () => {
  const steps = (event: ReturnType<typeof rawEventFor>) => failedSteps(nodesForFailures(readWorkflow(event)));
  const reference = (event: ReturnType<typeof rawEventFor>) => failedSteps((JSON.parse(event.object) as { status?: { nodes?: unknown } }).status?.nodes);

  test('are the failed steps JSON.parse finds, for every fixture and the benchmark workload', () => {
    let withFailures = 0;
    for (const { name, object } of loadAllWorkflows()) {
      const event = rawEventFor(object, 'MODIFIED');
      assert.deepEqual(steps(event), reference(event), name);
      if (reference(event).length > 0) withFailures++;
    }
    assert.ok(withFailures >= 10, `${withFailures} fixtures with failed steps`);
    for (const { event } of workloadEvents(buildTemplates(), { events: 300, prefix: 'lazy' })) assert.deepEqual(steps(event), reference(event), event.name);
  });

  test('are the same when a node key repeats or holds an escaped quote, and when many nodes failed', () => {
    const event = rawEventFor({ kind: 'Workflow', metadata: { name: 'w', namespace: 'n', uid: 'u', resourceVersion: '1' }, status: { phase: 'Failed', nodes: {} } }, 'MODIFIED');
    const withNodes = (nodes: string) => ({ ...event, object: event.object.replace('"nodes":{}', `"nodes":${nodes}`) });
    const cases = [
      '{"n1":{"id":"n1","type":"Pod","phase":"Failed"},"n2":{"id":"n2","type":"Pod","phase":"Succeeded"},"n1":{"id":"n1","type":"Pod","phase":"Succeeded"}}',
      '{"n1":{"id":"n1","type":"Pod","phase":"Succeeded"},"n1":{"id":"n1","type":"Pod","phase":"Failed"}}',
      '{"n\\"1":{"id":"n\\"1","type":"Pod","phase":"Failed","message":"said \\"no\\""},"n2":{"id":"n2","type":"Pod","phase":"Error"}}',
      `{${Array.from({ length: 40 }, (_, k) => `"p${k}":{"id":"p${k}","type":"Pod","phase":"${k % 2 ? 'Failed' : 'Error'}","startedAt":"2024-10-01T04:${String(k).padStart(2, '0')}:00Z"}`).join(',')}}`,
    ];
    for (const nodes of cases) {
      const e = withNodes(nodes);
      assert.notEqual(e.object, event.object);
      assert.deepEqual(steps(e), reference(e), nodes);
    }
    assert.deepEqual(steps(withNodes(cases[0]!)), []);
    assert.equal(steps(withNodes(cases[3]!)).length, 40);
    assert.equal(steps(withNodes(cases[1]!)).length, 1);
    assert.equal(steps(withNodes(cases[2]!)).length, 2);
  });

  test('are found when a phase is spelt with \\u escapes, and when nodes were read before', () => {
    const object = { kind: 'Workflow', metadata: { name: 'w', namespace: 'n', uid: 'u', resourceVersion: '1' }, status: { phase: 'Failed', nodes: { n1: { id: 'n1', name: 'w.a', type: 'Pod', phase: 'Failed', message: 'exit 1' } } } };
    const escaped = rawEventFor(object, 'MODIFIED');
    escaped.object = escaped.object.replace('"phase":"Failed","message"', '"phase":"\\u0046ailed","message"');
    assert.notEqual(escaped.object, JSON.stringify(object));
    assert.equal(steps(escaped).length, 1);
    assert.deepEqual(steps(escaped), reference(escaped));
    const view = readWorkflow(rawEventFor(object, 'MODIFIED'));
    assert.ok(view.status.nodes);
    assert.equal(failedSteps(nodesForFailures(view)).length, 1);
  });
});
