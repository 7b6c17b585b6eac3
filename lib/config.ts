// Configuration shared by every kubetrail service: how to reach Kafka, the Schema Registry and
// Kubernetes. Precedence: command-line flags, then environment, then an optional YAML/JSON file
// (--config or KUBETRAIL_CONFIG), then defaults. Validated once at start-up with zod so a bad
// value fails early with a message that names the setting and how to set it.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { redactUrl } from './redact.js';

const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));

const booleanish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');

const file = z.string().min(1, 'a file path');
/** `PLAIN` and `SCRAM-SHA-512` as Kafka writes them work too. */
const saslMechanism = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'], 'must be plain, scram-sha-256, scram-sha-512 or oauthbearer'));

export const connectionSchema = z.object({
  kafkaBrokers: commaList.pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port')).min(1, 'at least one broker')),
  kafkaClientId: z.string().default('kubetrail'),
  /** TLS to the brokers. Unset: on when any kafkaSsl* file or the server name is given. */
  kafkaSsl: booleanish.optional(),
  /** PEM file of the CA(s) the brokers' certificates are checked against (default: the system's). */
  kafkaSslCaFile: file.optional(),
  /** PEM client certificate (chain) and its private key, for brokers that require client authentication (mTLS). */
  kafkaSslCertFile: file.optional(),
  kafkaSslKeyFile: file.optional(),
  /** The name the brokers' certificates must carry (default: each broker's host as dialled). */
  kafkaSslServername: z.string().min(1).optional(),
  kafkaSaslMechanism: saslMechanism.optional(),
  kafkaSaslUsername: z.string().min(1).optional(),
  kafkaSaslPassword: z.string().min(1).optional(),
  /** The password read from a file (a mounted Secret); trailing newlines are dropped. */
  kafkaSaslPasswordFile: file.optional(),
  /** OAUTHBEARER: a file holding the current token, read again at every (re)authentication. */
  kafkaSaslOauthbearerTokenFile: file.optional(),
  /** SASL credentials over a connection without TLS are refused unless this is true. */
  kafkaSaslAllowPlaintext: booleanish.default(false),
  // An http(s) URL: 'registry:8081' parses as a URL (scheme "registry:") but no client can use it.
  schemaRegistryUrl: z
    .string()
    .url('must be a URL such as http://localhost:8081')
    .refine((url) => /^https?:\/\//i.test(url), 'must be an http:// or https:// URL such as http://localhost:8081'),
  schemaRegistryCaFile: file.optional(),
  schemaRegistryCertFile: file.optional(),
  schemaRegistryKeyFile: file.optional(),
  schemaRegistryUsername: z.string().min(1).optional(),
  schemaRegistryPassword: z.string().min(1).optional(),
  schemaRegistryPasswordFile: file.optional(),
});
export type ConnectionConfig = z.infer<typeof connectionSchema>;

/** Environment variable for each setting (the camelCase key in a config file, the kebab flag). */
export const connectionEnv: Record<keyof ConnectionConfig, string> = {
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaClientId: 'KAFKA_CLIENT_ID',
  kafkaSsl: 'KAFKA_SSL',
  kafkaSslCaFile: 'KAFKA_SSL_CA_FILE',
  kafkaSslCertFile: 'KAFKA_SSL_CERT_FILE',
  kafkaSslKeyFile: 'KAFKA_SSL_KEY_FILE',
  kafkaSslServername: 'KAFKA_SSL_SERVERNAME',
  kafkaSaslMechanism: 'KAFKA_SASL_MECHANISM',
  kafkaSaslUsername: 'KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'KAFKA_SASL_PASSWORD',
  kafkaSaslPasswordFile: 'KAFKA_SASL_PASSWORD_FILE',
  kafkaSaslOauthbearerTokenFile: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
  kafkaSaslAllowPlaintext: 'KAFKA_SASL_ALLOW_PLAINTEXT',
  schemaRegistryUrl: 'SCHEMA_REGISTRY_URL',
  schemaRegistryCaFile: 'SCHEMA_REGISTRY_CA_FILE',
  schemaRegistryCertFile: 'SCHEMA_REGISTRY_CERT_FILE',
  schemaRegistryKeyFile: 'SCHEMA_REGISTRY_KEY_FILE',
  schemaRegistryUsername: 'SCHEMA_REGISTRY_USERNAME',
  schemaRegistryPassword: 'SCHEMA_REGISTRY_PASSWORD',
  schemaRegistryPasswordFile: 'SCHEMA_REGISTRY_PASSWORD_FILE',
};

/** Settings never printed or logged (values read from the *File settings are kept out by lib/redact.ts). */
export const secretKeys = new Set<string>(['kafkaSaslPassword', 'schemaRegistryPassword']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  const parsed: unknown = parseYaml(text); // YAML is a superset of JSON
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a mapping of settings`);
  return parsed as Record<string, unknown>;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Resolves a zod object schema from flags, environment and file. `envNames` maps each key to its
 * environment variable; flags use the kebab-case of the key (commander gives them camelCased).
 */
export function resolveConfig<S extends z.ZodObject>(
  schema: S,
  envNames: Partial<Record<keyof z.input<S> & string, string>>,
  sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv; file?: Record<string, unknown> },
  /** Checks across settings (connectionProblems for the connection); reported like zod's issues. */
  check?: (config: z.output<S>) => Array<{ key: string; message: string }>,
): z.output<S> {
  const env = sources.env ?? process.env;
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const envName = envNames[key as keyof typeof envNames];
    const fromFlag = sources.flags?.[key];
    const fromEnv = envName ? env[envName] : undefined;
    const fromFile = sources.file?.[key];
    const value = fromFlag ?? (fromEnv === '' ? undefined : fromEnv) ?? fromFile;
    if (value !== undefined) merged[key] = value;
  }
  const how = (key: string) => [`--${kebab(key)}`, envNames[key as keyof typeof envNames], `'${key}' in the config file`].filter(Boolean).join(', ');
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      // A missing value reads 'is required', whatever zod says of the type it expected.
      const message = merged[key] === undefined ? 'is required' : issue.message;
      return `  ${key}: ${message} (set with ${how(key)})`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const problems = check?.(result.data) ?? [];
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n${problems.map(({ key, message }) => `  ${key}: ${message} (set with ${how(key)})`).join('\n')}`);
  }
  return result.data;
}

/** A copy safe to print: secrets replaced, and the user and password of any URL (a registry URL may carry them). */
export function redactConfig<T extends Record<string, unknown>>(config: T): T {
  const copy: Record<string, unknown> = { ...config };
  for (const key of Object.keys(copy)) {
    if (secretKeys.has(key) && copy[key] !== undefined) copy[key] = '***';
    else if (typeof copy[key] === 'string') copy[key] = redactUrl(copy[key]);
  }
  return copy as T;
}
