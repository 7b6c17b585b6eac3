// lib/topics.ts createTopicsPatiently (and ensureTopics, which creates through the same step):
// a retriable failure is tried again, a non-retriable one is thrown at once, and the topics'
// leaders are waited for also when the topics existed already (kafkajs' createTopics returns
// without waiting then). topicConfigs (and maxMessageBytes, which a processor reads at start-up
// right after creating its topics) and partitionCount try DescribeConfigs and Metadata again while a just-created topic is unknown
// to the broker asked. A stand-in Admin: this is the retry logic, not Kafka.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import { createTopicsPatiently, maxMessageBytes, partitionCount, topicConfigs, weakTopics } from '../../lib/topics.js';

/** An Admin whose createTopics and fetchTopicMetadata play the given outcomes in turn (the last one repeats). */
function scriptedAdmin(create: Array<() => Promise<boolean>>, leaders: number[][]) {
  const calls = { create: 0, metadata: 0 };
  const admin = {
    createTopics: () => create[Math.min(calls.create++, create.length - 1)]!(),
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const round = leaders[Math.min(calls.metadata++, leaders.length - 1)]!;
      return { topics: topics.map((name) => ({ name, partitions: round.map((leader, partitionId) => ({ partitionId, leader, replicas: [0], isr: [0], partitionErrorCode: 0 })) })) };
    },
  } as unknown as Admin;
  return { admin, calls };
}

const retriable = () => Promise.reject(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true }));
const topics = [{ topic: 't', numPartitions: 2 }];

describe('createTopicsPatiently', () => {
  it('tries a retriable failure again', async () => {
    const { admin, calls } = scriptedAdmin([retriable, async () => true], [[0, 0]]);
    await createTopicsPatiently(admin, topics);
    assert.deepEqual(calls, { create: 2, metadata: 1 });
  });

  it('waits for the leaders of topics that existed already', async () => {
    // kafkajs answers false (every topic existed) without waiting for leaders.
    const { admin, calls } = scriptedAdmin([async () => false], [[0, -1], [-1, -1], [0, 0]]);
    await createTopicsPatiently(admin, topics);
    assert.deepEqual(calls, { create: 3, metadata: 3 });
  });

  it('throws a non-retriable failure at once', async () => {
    const invalid = () => Promise.reject(Object.assign(new Error('Replication factor: 3 larger than available brokers: 1'), { type: 'INVALID_REPLICATION_FACTOR', retriable: false }));
    const { admin, calls } = scriptedAdmin([invalid], [[0, 0]]);
    await assert.rejects(createTopicsPatiently(admin, topics), /larger than available brokers/);
    assert.deepEqual(calls, { create: 1, metadata: 0 });
  });

  it('takes "already exists" from another creator as success', async () => {
    const exists = () => Promise.reject(Object.assign(new Error('Topic with this name already exists'), { type: 'TOPIC_ALREADY_EXISTS' }));
    const { admin, calls } = scriptedAdmin([exists], [[0, 0]]);
    await createTopicsPatiently(admin, topics);
    assert.deepEqual(calls, { create: 1, metadata: 1 });
  });
});

/** A config value of its own for each topic (not a broker default the code could fall back on): 8 MB plus the name's length. */
const configValueOf = (topic: string) => String(8_000_000 + topic.length);

/** An Admin whose describeConfigs fails `failures` times with the given error, then answers. */
function describingAdmin(failures: number, error: () => Promise<never>) {
  const calls = { describe: 0 };
  const admin = {
    describeConfigs: async ({ resources }: { resources: Array<{ name: string; configNames: string[] }> }) => {
      if (calls.describe++ < failures) return error();
      return { resources: resources.map((r) => ({ resourceName: r.name, configEntries: r.configNames.map((configName) => ({ configName, configValue: configValueOf(r.name) })) })) };
    },
  } as unknown as Admin;
  return { admin, calls };
}

const denied = () => Promise.reject(Object.assign(new Error('Not authorized to access topics: [Topic authorization failed.]'), { type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false }));

describe('topicConfigs', () => {
  it('tries DescribeConfigs again while a just-created topic is unknown to the broker asked', async () => {
    const { admin, calls } = describingAdmin(2, retriable);
    const limits = await maxMessageBytes(admin, ['a', 'bb']);
    assert.deepEqual([...limits], [['a', 8_000_001], ['bb', 8_000_002]]);
    assert.equal(calls.describe, 3);
  });

  it('throws a non-retriable failure at once', async () => {
    const { admin, calls } = describingAdmin(1, denied);
    await assert.rejects(topicConfigs(admin, ['a'], ['cleanup.policy']), /Not authorized/);
    assert.equal(calls.describe, 1);
  });

  it('asks nothing for no topics', async () => {
    const { admin, calls } = describingAdmin(0, retriable);
    assert.equal((await topicConfigs(admin, [], ['cleanup.policy'])).size, 0);
    assert.equal(calls.describe, 0);
  });
});

describe('weakTopics (inspectDurability)', () => {
  /** describingAdmin on a one-broker cluster whose listed topics are `listed[n]` at the n-th listing (the last repeats). */
  function clusterAdmin(failures: number, error: () => Promise<never>, listed: string[][]) {
    const { admin, calls } = describingAdmin(failures, error);
    let listings = 0;
    return {
      calls,
      admin: Object.assign(Object.create(admin) as Admin, {
        listTopics: async () => listed[Math.min(listings++, listed.length - 1)]!,
        describeCluster: async () => ({ brokers: [{ nodeId: 0, host: 'b', port: 9092 }], controller: 0, clusterId: 'c' }),
        fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({ topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }] })) }),
      }),
    };
  }

  it('lists the topics again when one vanished between the listing and DescribeConfigs (one retry around the whole check)', async () => {
    const { admin, calls } = clusterAdmin(0, retriable, [['a', 'gone'], ['a']]);
    // DescribeConfigs of a deleted topic fails for as long as it is asked about.
    const describe = admin.describeConfigs.bind(admin);
    const vanished = Object.assign(Object.create(admin) as Admin, {
      describeConfigs: (request: { resources: Array<{ name: string }> }) => (request.resources.some((r) => r.name === 'gone') ? (calls.describe++, retriable()) : describe(request as never)),
    });
    assert.deepEqual(await weakTopics(vanished, ['a', 'gone']), []);
    assert.equal(calls.describe, 2);
  });

  it('is one finding that says so, never an error, when DescribeConfigs is denied', async () => {
    const { admin, calls } = clusterAdmin(1, denied, [['a']]);
    const findings = await weakTopics(admin, ['a']);
    assert.equal(findings.length, 1);
    assert.match(findings[0]!, /^cannot check the replicas and min\.insync\.replicas of a: Not authorized/);
    assert.equal(calls.describe, 1);
  });
});

describe('partitionCount', () => {
  it('tries Metadata again while a listed topic is unknown to the broker asked', async () => {
    const { admin, calls } = scriptedAdmin([async () => true], [[0, 0, 0]]);
    let failures = 2;
    const metadata = admin.fetchTopicMetadata.bind(admin);
    const flaky = Object.assign(Object.create(admin) as Admin, {
      listTopics: async () => ['t'],
      fetchTopicMetadata: (request: { topics: string[] }) => (failures-- > 0 ? retriable() : metadata(request)),
    });
    assert.equal(await partitionCount(flaky, 't'), 3);
    assert.equal(failures, -1);
    assert.equal(calls.metadata, 1);
  });

  it('is undefined for a topic that is not listed, without asking for its metadata', async () => {
    const { admin, calls } = scriptedAdmin([async () => true], [[0]]);
    const none = Object.assign(Object.create(admin) as Admin, { listTopics: async () => ['other'] });
    assert.equal(await partitionCount(none, 't'), undefined);
    assert.equal(calls.metadata, 0);
  });
});
