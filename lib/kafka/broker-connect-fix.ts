// kafkajs 2.2.4's Broker#connect returns at once when its connection pool has an open socket. Its
// first ApiVersions request uses the connection timeout as its request timeout (1 s by default, 5 s
// in kubetrail's clients). When that request times out (a loaded machine, a broker in a GC pause),
// the socket stays open, and the connect fails with a retriable error. kafkajs' broker pool then
// calls connect() again, which returns at once: the broker never learnt the API versions, and every
// request on it throws "Broker not connected" for as long as the client lives (seen in CI: the
// first createTopics of a test's admin, right after its connect had resolved). A connect that finds
// the socket open but the broker not initialized now closes the socket and connects again.
// Installed by kafkaClient().
import { patchKafkajs } from './kafkajs-patch.js';

/** The parts of kafkajs' Broker this uses. */
interface BrokerInternals {
  lock: { acquire(): Promise<void>; release(): Promise<void> };
  lookupRequest: { name: string };
  connectionPool: { isConnected(): boolean; destroy(): Promise<void> };
}

/** True when a connect began (the socket is open) but never finished: kafkajs' placeholder lookup is still in place. */
export function connectedWithoutVersions(broker: BrokerInternals): boolean {
  return broker.lookupRequest.name === 'notInitializedLookup' && broker.connectionPool.isConnected();
}

export function installBrokerConnectFix(): void {
  patchKafkajs('broker-connect-fix', 'Broker', ['connect'], (original) =>
    async function connectAfterHalfConnect(this: BrokerInternals, ...args: unknown[]): Promise<unknown> {
      if (connectedWithoutVersions(this)) {
        // Under the broker's own lock, so a connect in progress elsewhere is not cut short.
        await this.lock.acquire();
        try {
          if (connectedWithoutVersions(this)) await this.connectionPool.destroy();
        } finally {
          await this.lock.release();
        }
      }
      return original.apply(this, args);
    },
  );
}
