// The ACLs each kubetrail service needs, with the default topic, group and transactional-id names
// — the list docs/operations.md shows (test/unit/secured-acls.test.ts keeps the two equal) and the
// secured integration test grants on its broker (StandardAuthorizer, nothing allowed by default).
// Found by running each service against that broker. DESCRIBE is not listed: Kafka implies it
// from READ and WRITE. CREATE is needed only where a service creates its own topics (without
// `kubetrail topics init` run by an administrator first).
import kafkajs, { type AclEntry } from 'kafkajs';

// kafkajs is CommonJS and these enums are not among the names Node finds for an ESM import.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export type Operation = keyof typeof AclOperationTypes;
export type ResourceType = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID' | 'CLUSTER';

export interface Grant {
  resource: ResourceType;
  /** LITERAL: exactly this name; PREFIXED: every name starting with it. */
  pattern: 'LITERAL' | 'PREFIXED';
  name: string;
  operations: Operation[];
  why: string;
}

/** The grants of each service's principal (User:<name>), default names. */
export const serviceGrants: Record<'producer' | 'completed-filter' | 'workflow-summary' | 'subscriber', Grant[]> = {
  producer: [
    { resource: 'TOPIC', pattern: 'LITERAL', name: 'kubetrail.raw', operations: ['CREATE', 'WRITE'], why: 'writes every change; CREATE only if it creates the topic (no `topics init`)' },
    { resource: 'TOPIC', pattern: 'LITERAL', name: 'kubetrail.producer.state', operations: ['CREATE', 'READ', 'WRITE'], why: 'checkpoints and the object index: written in each transaction, read by a new leader' },
    { resource: 'GROUP', pattern: 'PREFIXED', name: 'kubetrail-producer.', operations: ['READ'], why: 'the leader election group `kubetrail-producer.<stream>.leader`' },
    { resource: 'TRANSACTIONAL_ID', pattern: 'PREFIXED', name: 'kubetrail-producer.', operations: ['WRITE'], why: 'the stream\'s transactional ids `kubetrail-producer.<stream>` and `kubetrail-producer.<stream>/1`' },
  ],
  'completed-filter': processorGrants('completed-filter', 'kubetrail.workflows.completed', 'emitted'),
  'workflow-summary': processorGrants('workflow-summary', 'kubetrail.workflows.summary', 'fingerprints'),
  subscriber: [
    { resource: 'TOPIC', pattern: 'LITERAL', name: 'kubetrail.workflows.summary', operations: ['READ'], why: 'the topic it prints (no group: it assigns partitions; `--group <id>` needs READ on that group)' },
  ],
};

/** A processor: its group and every name derived from it (dead letters, changelog, transactional ids). */
export function processorGrants(group: string, output: string, store = '<store>'): Grant[] {
  return [
    { resource: 'TOPIC', pattern: 'LITERAL', name: 'kubetrail.raw', operations: ['READ'], why: 'its input' },
    { resource: 'GROUP', pattern: 'LITERAL', name: group, operations: ['READ'], why: 'its consumer group' },
    { resource: 'TOPIC', pattern: 'LITERAL', name: output, operations: ['CREATE', 'DESCRIBE_CONFIGS', 'WRITE'], why: 'its output; `max.message.bytes` read at start; CREATE only if it creates the topic' },
    {
      resource: 'TOPIC',
      pattern: 'PREFIXED',
      name: group,
      operations: ['CREATE', 'DESCRIBE_CONFIGS', 'READ', 'WRITE'],
      why: `\`${group}.dlq\` (dead letters) and \`${group}-${store}-changelog\` (its state, read back on restore)`,
    },
    { resource: 'TRANSACTIONAL_ID', pattern: 'PREFIXED', name: `${group}-`, operations: ['WRITE'], why: `one transactional producer per input partition, \`${group}-<input>-<partition>\`` },
  ];
}

/** kafkajs AclEntry values for one principal's grants. */
export function aclEntries(principal: string, grants: Grant[]): AclEntry[] {
  return grants.flatMap((grant) =>
    grant.operations.map((operation) => ({
      resourceType: AclResourceTypes[grant.resource],
      resourceName: grant.resource === 'CLUSTER' ? 'kafka-cluster' : grant.name,
      resourcePatternType: ResourcePatternTypes[grant.pattern],
      principal: `User:${principal}`,
      host: '*',
      operation: AclOperationTypes[operation],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );
}

/** The grants as the rows of the table in docs/operations.md. */
export function grantRows(): string[] {
  const rows: string[] = [];
  for (const [principal, grants] of Object.entries(serviceGrants)) {
    for (const grant of grants) {
      const name = grant.pattern === 'PREFIXED' ? `${grant.name}*` : grant.name;
      rows.push(`| ${principal} | ${grant.resource.toLowerCase().replace('_', '-')} | \`${name}\` | ${grant.operations.join(', ')} | ${grant.why} |`);
    }
  }
  return rows;
}
