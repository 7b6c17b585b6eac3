// The secured-connection settings without a broker: what is refused at start-up (exit 2, the
// setting named), what the clients get, and that secrets and URL userinfo never reach a log line.
// The same against a real TLS/SASL/ACL broker: test/integration/secured.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ConfigError, connectionEnv, connectionSchema, redactConfig, resolveConfig } from '../../lib/config.js';
import { connectionProblems, explainTlsError, kafkaTlsEnabled, resolveSecurity, splitUserinfo } from '../../lib/secure-connection.js';
import { redactText, rememberSecret } from '../../lib/redact.js';
import { createLogger } from '../../lib/log.js';

const dir = mkdtempSync(join(tmpdir(), 'kubetrail-secure-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const base = { KAFKA_BROKERS: 'kafka:9093', SCHEMA_REGISTRY_URL: 'http://registry:8081' };

function load(env: Record<string, string>) {
  return resolveConfig(connectionSchema, connectionEnv, { env: { ...base, ...env } }, connectionProblems);
}

/** The ConfigError's text; fails when the settings are accepted. */
function refusal(env: Record<string, string>): string {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail(`accepted: ${JSON.stringify(env)}`);
}

describe('Kafka SASL settings', () => {
  it('a mechanism without its credentials is refused, naming the missing setting and how to set it', () => {
    const message = refusal({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'svc' });
    assert.match(message, /kafkaSaslPassword: is required with kafkaSaslMechanism=scram-sha-512 .*KAFKA_SASL_PASSWORD/);
    assert.match(refusal({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'pw-1234' }), /kafkaSaslUsername: is required/);
    assert.match(refusal({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer' }), /kafkaSaslOauthbearerTokenFile: is required/);
  });

  it('credentials without a mechanism are refused instead of being ignored', () => {
    assert.match(refusal({ KAFKA_SSL: 'true', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw-1234' }), /kafkaSaslMechanism: is required with kafkaSaslUsername, kafkaSaslPassword/);
  });

  it('SASL without TLS is refused unless explicitly allowed', () => {
    const creds = { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw-1234' };
    assert.match(refusal(creds), /kafkaSaslMechanism: plain over a connection without TLS .*KAFKA_SASL_MECHANISM/);
    assert.match(refusal({ ...creds, KAFKA_SASL_MECHANISM: 'scram-sha-256' }), /without TLS/);
    const allowed = load({ ...creds, KAFKA_SASL_ALLOW_PLAINTEXT: 'true' });
    assert.deepEqual(resolveSecurity(allowed).kafka, { tls: undefined, sasl: { mechanism: 'plain', username: 'svc', password: 'pw-1234' } });
  });

  it('the password comes from a file, without its trailing newline; not both ways at once', () => {
    const passwordFile = file('password', 's3cret-from-file\n');
    const config = load({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_FILE: passwordFile });
    assert.equal(config.kafkaSaslMechanism, 'scram-sha-256');
    assert.deepEqual(resolveSecurity(config).kafka.sasl, { mechanism: 'scram-sha-256', username: 'svc', password: 's3cret-from-file' });
    assert.match(
      refusal({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw-1234', KAFKA_SASL_PASSWORD_FILE: passwordFile }),
      /kafkaSaslPasswordFile: and kafkaSaslPassword are both set/,
    );
    assert.match(refusal({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') }), /is empty/);
  });
});

describe('Kafka TLS settings', () => {
  it('TLS is on when a TLS file is named, and kafkaSsl=false with one is refused', () => {
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n');
    assert.equal(kafkaTlsEnabled(connectionSchema.parse({ kafkaBrokers: 'k:1', schemaRegistryUrl: 'http://r:1', kafkaSslServername: 'kafka.internal' })), true);
    assert.equal(kafkaTlsEnabled(connectionSchema.parse({ kafkaBrokers: 'k:1', schemaRegistryUrl: 'http://r:1' })), false);
    assert.match(refusal({ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: ca }), /kafkaSsl: is false, but kafkaSslCaFile is set/);
  });

  it('an unreadable or non-PEM file, or half a certificate/key pair, is refused naming the setting', () => {
    assert.match(refusal({ KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') }), /kafkaSslCaFile: cannot read .*missing\.pem: ENOENT \(set with --kafka-ssl-ca-file, KAFKA_SSL_CA_FILE/);
    assert.match(refusal({ KAFKA_SSL_CA_FILE: file('junk.pem', 'hello') }), /kafkaSslCaFile: .*junk\.pem holds no PEM certificate/);
    assert.match(refusal({ KAFKA_SSL_CERT_FILE: file('c.pem', 'x') }), /kafkaSslKeyFile: is required with kafkaSslCertFile/);
    assert.match(refusal({ KAFKA_SSL_KEY_FILE: file('k.pem', 'x') }), /kafkaSslCertFile: is required with kafkaSslKeyFile/);
  });

  it('TLS errors are explained by the setting that fixes them; others are left to the retries', () => {
    const error = (code: string, message: string) => Object.assign(new Error(message), { code });
    assert.equal(explainTlsError(error('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), 'kafka', 'k:9093')?.key, 'kafkaSslCaFile');
    assert.equal(explainTlsError(error('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), 'kafka', 'k:9093')?.key, 'kafkaSslServername');
    assert.equal(explainTlsError(error('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ssl3_read_bytes:sslv3 alert bad certificate'), 'kafka', 'k:9093')?.key, 'kafkaSslCertFile');
    assert.equal(explainTlsError(error('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'registry', 'r:443')?.key, 'schemaRegistryCaFile');
    assert.equal(explainTlsError(error('ECONNREFUSED', 'connect ECONNREFUSED'), 'kafka', 'k:9093'), undefined);
  });
});

describe('Schema Registry settings', () => {
  it('userinfo in the URL becomes basic auth and leaves the URL every client and message sees', () => {
    assert.deepEqual(splitUserinfo('https://svc:p%40ss-word@registry:8443/apis/ccompat/v7'), { url: 'https://registry:8443/apis/ccompat/v7', username: 'svc', password: 'p@ss-word' });
    const security = resolveSecurity(load({ SCHEMA_REGISTRY_URL: 'https://svc:pw-in-url@registry:8443/apis/ccompat/v7' }));
    assert.deepEqual(security.registry, { url: 'https://registry:8443/apis/ccompat/v7', auth: { username: 'svc', password: 'pw-in-url' }, tls: undefined });
  });

  it('half credentials, credentials given twice, and TLS files for an http:// URL are refused', () => {
    assert.match(refusal({ SCHEMA_REGISTRY_USERNAME: 'svc' }), /schemaRegistryPassword: is required with schemaRegistryUsername .*SCHEMA_REGISTRY_PASSWORD/);
    assert.match(refusal({ SCHEMA_REGISTRY_PASSWORD: 'pw-1234' }), /schemaRegistryUsername: is required with schemaRegistryPassword/);
    assert.match(refusal({ SCHEMA_REGISTRY_URL: 'https://a:b-pw@registry', SCHEMA_REGISTRY_USERNAME: 'svc' }), /give the credentials one way/);
    assert.match(refusal({ SCHEMA_REGISTRY_CA_FILE: file('rca.pem', 'x') }), /schemaRegistryUrl: is not an https:\/\/ URL, but schemaRegistryCaFile is set/);
  });
});

describe('no secret in what is printed', () => {
  it('redactConfig masks passwords and the userinfo of URLs; errors never echo a value', () => {
    const config = load({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'kafka-pw-5678', SCHEMA_REGISTRY_URL: 'https://svc:registry-pw-9876@registry/apis' });
    const printed = JSON.stringify(redactConfig(config));
    assert.doesNotMatch(printed, /kafka-pw-5678|registry-pw-9876/);
    assert.match(printed, /"schemaRegistryUrl":"https:\/\/\*\*\*@registry\/apis"/);
    assert.doesNotMatch(refusal({ SCHEMA_REGISTRY_URL: 'registry-pw-4321', KAFKA_SASL_PASSWORD: 'kafka-pw-4321' }), /pw-4321/);
  });

  it('every log line is scrubbed of remembered secrets (raw and JSON-escaped) and of URL userinfo', async () => {
    rememberSecret('pa"ss\\word-from-a-file');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('redaction-test', 'info', sink);
    logger.info({ url: 'https://user:hunter2-pw@registry:8443/x', token: 'pa"ss\\word-from-a-file' }, 'connecting with pa"ss\\word-from-a-file');
    logger.error({ err: new Error('failed at http://u:pw-in-error@host/') }, 'failed');
    await new Promise((resolveFlush) => setImmediate(resolveFlush));
    const text = lines.join('');
    assert.equal(lines.length, 2);
    assert.doesNotMatch(text, /hunter2|pw-in-error|word-from-a-file/);
    assert.match(text, /https:\/\/\*\*\*@registry:8443/);
    assert.equal(redactText('short ab secret'), 'short ab secret');
  });
});
