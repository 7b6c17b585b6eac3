// lib/kafka/kafkajs-patch.ts: a patch replaces the methods of kafkajs' own classes once, and one
// that names a method kafkajs lacks fails, naming itself, before it has replaced anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { patchKafkajs } from '../../lib/kafka/kafkajs-patch.js';

const require = createRequire(import.meta.url);
const Broker = require('kafkajs/src/broker/index.js') as { prototype: Record<string, unknown> };

test('wraps each method once, however often it is installed', () => {
  const original = Broker.prototype.connect;
  const wrapped: string[] = [];
  const install = () =>
    patchKafkajs('patch-test', 'Broker', ['connect', 'disconnect'], (method, name) => {
      wrapped.push(name);
      return function (this: unknown, ...args: unknown[]) {
        return method.apply(this, args);
      };
    });
  install();
  install();
  assert.deepEqual(wrapped, ['connect', 'disconnect']);
  assert.notEqual(Broker.prototype.connect, original);
});

test('a method kafkajs lacks: an error naming the patch, and nothing replaced', () => {
  const before = Broker.prototype.metadata;
  assert.throws(
    () => patchKafkajs('missing-test', 'Broker', ['metadata', 'noSuchMethod'], () => () => undefined),
    { message: 'kafkajs internals changed: Broker#noSuchMethod not found (lib/kafka/missing-test.ts needs kafkajs 2.2.4)' },
  );
  assert.equal(Broker.prototype.metadata, before);
});
