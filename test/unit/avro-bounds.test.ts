// The bounds walker: a value whose counts and lengths the bytes cannot hold is refused before
// avsc allocates or loops, within microseconds, at any depth; real records pass unchanged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { BoundsError, compileBoundsCheck } from '../../lib/kafka/avro-bounds.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { workflowSummarySchema } from '../../schemas/generated/workflow-summary.js';
import { loadAllWorkflows, rawEventFor } from '../fixtures/workflows.js';
import { countVarint } from '../support/bad-input-corpus.js';

const rawType = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);
const checkRaw = compileBoundsCheck(rawType);

/** The event's bytes with the map/array/string at `marker` given another declared count. */
function withCount(event: ResourceEvent, marker: Buffer, count: number): Buffer {
  const body = rawType.toBuffer(event);
  const at = body.indexOf(marker);
  assert.ok(at >= 0, 'marker found');
  return Buffer.concat([body.subarray(0, at), countVarint(count), body.subarray(at + 1)]);
}

const event = (labels: Record<string, string>, trimmed: string[] = []): ResourceEvent => ({ ...rawEventFor(loadAllWorkflows()[0]!.object, 'MODIFIED', { name: 'poison', uid: 'uid-poison' }), labels, trimmed });

describe('Avro bounds', () => {
  it('every fixture, as a raw event, passes', () => {
    for (const { object } of loadAllWorkflows()) checkRaw(rawType.toBuffer(rawEventFor(object, 'MODIFIED')));
  });

  for (const [what, count] of [['map count 10^12', 1e12], ['map count 2×10^8', 2e8], ['map count 2^31−1', 2 ** 31 - 1]] as const) {
    it(`a labels map declaring ${what} entries is refused at once`, () => {
      // {'zz': 'q'}: count 1 (0x02), key length 2 (0x04) 'zz', value length 1 (0x02) 'q', end.
      const poison = withCount(event({ zz: 'q' }), Buffer.from([0x02, 0x04, 0x7a, 0x7a, 0x02, 0x71, 0x00]), count);
      const began = process.hrtime.bigint();
      assert.throws(() => checkRaw(poison), (e) => e instanceof BoundsError && /map of \d+ items/.test(e.message));
      assert.ok(Number(process.hrtime.bigint() - began) < 50e6, 'within 50 ms');
    });
  }

  it('an array count, a string length and a nested union index the bytes cannot hold are refused', () => {
    const trimmed = withCount(event({}, ['status.nodes']), Buffer.concat([Buffer.from([0x02, 0x18]), Buffer.from('status.nodes')]), 2e8);
    assert.throws(() => checkRaw(trimmed), /array of 200000000 items/);
    const body = rawType.toBuffer(event({ k: 'v' }));
    const at = body.indexOf(Buffer.from([0x02, 0x02, 0x6b, 0x02, 0x76, 0x00]));
    const longString = Buffer.concat([body.subarray(0, at + 1), countVarint(2 ** 31 - 1), body.subarray(at + 2)]);
    assert.throws(() => checkRaw(longString), /map key of 2147483647 bytes/);
    assert.throws(() => checkRaw(Buffer.concat([body, Buffer.from([0])])), /1 bytes left after the value/);
    assert.throws(() => checkRaw(body.subarray(0, body.length - 3)), BoundsError);
  });

  it('a string that is not valid UTF-8 is refused (avsc would replace it silently); valid odd Unicode passes', () => {
    const odd = event({ 'team/\u{1f680}': '\u0645\u0631\u062d\u0628\u0627', zz: 'q' });
    checkRaw(rawType.toBuffer(odd));
    const body = rawType.toBuffer(event({ zz: 'q' }));
    const at = body.indexOf(Buffer.from([0x04, 0x7a, 0x7a, 0x02, 0x71]));
    const bad = Buffer.from(body);
    bad[at + 4] = 0xff; // the value 'q' becomes a lone 0xff byte
    assert.throws(() => checkRaw(bad), /string at byte \d+ is not valid UTF-8/);
  });

  it('the summary schema compiles and its values pass', () => {
    const type = avro.Type.forSchema(workflowSummarySchema as unknown as avro.Schema);
    const check = compileBoundsCheck(type);
    assert.throws(() => check(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), BoundsError);
  });
});
