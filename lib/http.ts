// /healthz, /readyz and /metrics for every long-running service. Liveness says the process
// works; readiness says it does its job now (connected, leading or standing by, caught up).
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { concurrentTransactionStats } from './kafka/concurrent-transactions.js';

export interface HealthChecks {
  /** Liveness: false only when the process is wedged and should be restarted. */
  live(): boolean;
  /** Readiness, with a short reason shown in the response body. */
  ready(): { ready: boolean; reason: string };
}

/** The version of the running build, for kubetrail_build_info (set once by whoever knows it: the CLI). */
let buildVersion = 'unknown';
export function setBuildVersion(version: string): void {
  buildVersion = version;
}

/**
 * A service's metrics registry: Node's default metrics under their stock names (process_*,
 * nodejs_*: stock dashboards work), kubetrail_build_info, and the Kafka client's counts. No
 * default labels: Prometheus adds job, instance, namespace, pod, service from the target.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'kubetrail_build_info',
    help: 'Always 1: the kubetrail version and the Node.js version this process runs',
    labelNames: ['version', 'nodejs_version'],
    registers: [registry],
  }).set({ version: buildVersion, nodejs_version: process.versions.node }, 1);
  // Process-wide counts kept by the kafkajs patch (lib/kafka/concurrent-transactions.ts).
  new Counter({
    name: 'kubetrail_kafka_concurrent_transactions_total',
    help: 'Transactional requests (AddPartitionsToTxn, AddOffsetsToTxn) answered CONCURRENT_TRANSACTIONS: the previous transaction\'s markers were not written yet',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(concurrentTransactionStats().requests);
    },
  });
  new Counter({
    name: 'kubetrail_kafka_concurrent_transactions_retries_total',
    help: 'Retries of those requests, each after 2 to 50 ms',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(concurrentTransactionStats().retries);
    },
  });
  return registry;
}

export async function startServiceHttp(port: number, checks: HealthChecks, metrics: Registry, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const live = checks.live();
      res.writeHead(live ? 200 : 503, { 'content-type': 'text/plain' }).end(live ? 'ok\n' : 'not live\n');
    } else if (path === '/readyz') {
      const { ready, reason } = checks.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else if (path === '/metrics') {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
