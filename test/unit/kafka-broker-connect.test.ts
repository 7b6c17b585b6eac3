// lib/kafka/broker-connect-fix.ts: kafkajs' own Broker class (not a stand-in) over a stand-in
// connection pool whose first ApiVersions times out with the socket left open. Without the fix the
// next connect() returns at once and every request throws "Broker not connected"; with it, the
// socket is closed and the versions are asked again. No broker: this is kafkajs' connect logic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { installBrokerConnectFix } from '../../lib/kafka/broker-connect-fix.js';

const require = createRequire(import.meta.url);
const Broker = require('kafkajs/src/broker/index.js') as new (options: Record<string, unknown>) => {
  connect(): Promise<void>;
  metadata(topics?: string[]): Promise<unknown>;
  apiVersions(): Promise<Record<number, { minVersion: number; maxVersion: number }>>;
  lookupRequest: { name: string };
};
const { KafkaJSRequestTimeoutError } = require('kafkajs/src/errors.js') as { KafkaJSRequestTimeoutError: new (message: string) => Error };

const quiet = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => quiet };

/** A broker whose pool opens a socket on demand and whose ApiVersions answers as `answers` say, in turn. */
function halfConnectingBroker(answers: Array<'timeout' | 'versions'>) {
  const calls = { apiVersions: 0, destroyed: 0, opened: 0 };
  let open = false;
  const connection = { getSupportAuthenticationProtocol: () => false, authenticate: async () => undefined };
  const pool = {
    host: '127.0.0.1',
    port: 9092,
    connectionTimeout: 1000,
    isConnected: () => open,
    isAuthenticated: () => open,
    getConnection: async () => {
      if (!open) calls.opened++;
      open = true;
      return connection;
    },
    setVersions() {},
    setSupportAuthenticationProtocol() {},
    destroy: async () => {
      calls.destroyed++;
      open = false;
    },
  };
  const broker = new Broker({ connectionPool: pool, logger: quiet });
  broker.apiVersions = async () => {
    const answer = answers[Math.min(calls.apiVersions++, answers.length - 1)];
    if (answer === 'timeout') throw new KafkaJSRequestTimeoutError('Request ApiVersions(key: 18, version: 2) timed out');
    return { 3: { minVersion: 0, maxVersion: 6 } };
  };
  return { broker, calls };
}

describe('broker connect after a timed-out first ApiVersions', () => {
  it('kafkajs alone: the next connect returns at once, and every request throws "Broker not connected" (the bug; runs before the fix is installed)', async () => {
    const { broker, calls } = halfConnectingBroker(['timeout', 'versions']);
    await assert.rejects(broker.connect(), /timed out/);
    await broker.connect();
    await assert.rejects(broker.metadata([]), /Broker not connected/);
    assert.deepEqual(calls, { apiVersions: 1, destroyed: 0, opened: 1 });
  });

  it('the next connect closes the half-open socket and asks the versions again', async () => {
    installBrokerConnectFix();
    const { broker, calls } = halfConnectingBroker(['timeout', 'versions']);
    await assert.rejects(broker.connect(), /timed out/);
    await broker.connect();
    assert.deepEqual(calls, { apiVersions: 2, destroyed: 1, opened: 2 });
    assert.notEqual(broker.lookupRequest.name, 'notInitializedLookup');
  });

  it('a connected broker is left as it is', async () => {
    installBrokerConnectFix();
    const { broker, calls } = halfConnectingBroker(['versions']);
    await broker.connect();
    await broker.connect();
    assert.deepEqual(calls, { apiVersions: 1, destroyed: 0, opened: 1 });
  });
});
