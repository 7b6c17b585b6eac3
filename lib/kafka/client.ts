// Every kafkajs client in kubetrail is made here, services, CLI, tests and benchmarks alike, so
// the kafkajs patches (the read_committed fix, the quick CONCURRENT_TRANSACTIONS retry, the
// coordinator cache, the negative-timeout fix, one AddPartitionsToTxn per transaction, and a gzip
// codec that hands zlib's output over in 1 MiB pieces, and a broker connect that finishes after a
// timed-out first one) are installed in exactly one place, before
// the first client exists. kafkajs is pinned exactly (package.json) because the patches reach into
// its internals.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel, type ISocketFactory, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ConnectionConfig } from '../config.js';
import { kafkaLogCreator, type Logger } from '../log.js';
import { rememberSecret } from '../redact.js';
import { annotateTlsError, registryAgent, resolveSecurity, type ResolvedSecurity } from '../secure-connection.js';
import { installReadCommittedFix } from './read-committed-fix.js';
import { installConcurrentTransactionsRetry } from './concurrent-transactions.js';
import { installCoordinatorCache } from './coordinator-cache.js';
import { installNegativeTimeoutFix } from './negative-timeout-fix.js';
import { installTransactionPartitionCoalescing } from './transaction-partitions.js';
import { installGzipCodec } from './gzip-codec.js';
import { installBrokerConnectFix } from './broker-connect-fix.js';

/** A kafkajs client with kubetrail's patches installed. */
export function kafkaClient(config: KafkaConfig): Kafka {
  installReadCommittedFix();
  installConcurrentTransactionsRetry();
  installCoordinatorCache();
  installNegativeTimeoutFix();
  // After the CONCURRENT_TRANSACTIONS retry, so the one request it makes is retried quickly too.
  installTransactionPartitionCoalescing();
  installGzipCodec();
  installBrokerConnectFix();
  return new Kafka(config);
}

/**
 * kafkajs' own socket factory, plus: a TLS error says which setting fixes it (an untrusted broker
 * certificate names kafkaSslCaFile, a refused client certificate kafkaSslCertFile), in the error
 * kafkajs logs and rethrows.
 */
const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ssl as object) }, onConnect)
    : netConnect({ host, port }, onConnect);
  // Registered before kafkajs' listener, so the message is complete when kafkajs wraps it.
  if (ssl) socket.on('error', (error: NodeJS.ErrnoException) => annotateTlsError(error, 'kafka', `${host}:${port}`));
  socket.setKeepAlive(true, 60_000);
  return socket;
};

function saslOptions(security: ResolvedSecurity): SASLOptions | undefined {
  const sasl = security.kafka.sasl;
  if (!sasl) return undefined;
  if (sasl.mechanism === 'oauthbearer') {
    const tokenFile = sasl.tokenFile;
    return {
      mechanism: 'oauthbearer',
      // Read at every (re)authentication: whatever refreshes the file (a sidecar, a projected
      // service-account token) refreshes the client.
      oauthBearerProvider: async () => {
        const value = readFileSync(tokenFile, 'utf8').trim();
        rememberSecret(value);
        return { value };
      },
    };
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
}

/**
 * The client of a kubetrail service or command, from the validated connection settings. TLS
 * material and credentials are read here; a missing or unreadable one is a ConfigError naming it.
 */
export function createKafka(
  config: ConnectionConfig,
  logger: Logger,
  clientId = config.kafkaClientId,
  /** Fewer retries for a quick answer (a command's first contact: fail fast when Kafka is unreachable). */
  overrides: Pick<KafkaConfig, 'retry' | 'connectionTimeout'> = {},
): Kafka {
  const security = resolveSecurity(config);
  const kafkaConfig: KafkaConfig = {
    clientId,
    brokers: config.kafkaBrokers,
    ssl: security.kafka.tls,
    sasl: saslOptions(security),
    socketFactory,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    // Retry long enough to ride out a broker restart instead of failing the service.
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 },
    connectionTimeout: 5_000,
    ...overrides,
  };
  return kafkaClient(kafkaConfig);
}

/**
 * The registry client: the URL without userinfo (credentials in the URL become basic auth, so no
 * error or log line the client writes can carry them), the CA and client certificate for https.
 */
export function createRegistry(config: ConnectionConfig): SchemaRegistry {
  const security = resolveSecurity(config);
  return new SchemaRegistry({
    host: security.registry.url,
    auth: security.registry.auth,
    agent: registryAgent(security),
    retry: { retries: 8, initialRetryTimeInSecs: 0.3, maxRetryTimeInSecs: 10 },
  });
}
