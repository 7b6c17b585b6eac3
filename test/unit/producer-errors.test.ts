// lib/kafka/producer-errors.ts, the one table of what a transactional producer's errors mean: an
// epoch error is found however deep kafkajs wrapped it, and an authorization failure fences but
// is not an epoch error (a redrive reports only the latter as "another one took over").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochErrorType, isFencedError, needsNewProducer } from '../../lib/kafka/producer-errors.js';

const broker = (type: string) => Object.assign(new Error(type), { type });
const wrapped = (inner: unknown) => Object.assign(new Error('KafkaJSNumberOfRetriesExceeded'), { originalError: Object.assign(new Error('transaction failed'), { cause: inner }) });

test('epoch errors are found down the chain; an authorization failure fences but is none', () => {
  assert.equal(epochErrorType(wrapped(broker('PRODUCER_FENCED'))), 'PRODUCER_FENCED');
  assert.equal(epochErrorType(broker('INVALID_PRODUCER_EPOCH')), 'INVALID_PRODUCER_EPOCH');
  const denied = wrapped(broker('TRANSACTIONAL_ID_AUTHORIZATION_FAILED'));
  assert.equal(epochErrorType(denied), undefined);
  assert.equal(isFencedError(denied), true);
  assert.equal(epochErrorType(wrapped(broker('UNKNOWN_PRODUCER_ID'))), undefined);
  assert.equal(needsNewProducer(wrapped(broker('UNKNOWN_PRODUCER_ID'))), true);
  assert.equal(epochErrorType(new Error('socket hang up')), undefined);
});
