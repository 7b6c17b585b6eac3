// Leader election through Kafka's group coordination. Every replica of a stream joins one consumer
// group subscribed to the state topic, which has a single partition: the member that is assigned
// partition 0 leads, the others stand by. A leader that dies stops heartbeating and the
// coordinator hands the partition to a standby after the session timeout (6 s by default); one
// that shuts down cleanly leaves the group and hands over at once.
//
// The group only decides who SHOULD write. What makes a second writer harmless is the fixed
// transactional ids of the stream: a new leader's initTransactions on each (producer/session.ts,
// before it reads the state) bumps the producer epoch and aborts whatever the old one had open,
// so a paused or partitioned ex-leader (a "zombie") fails with a fencing error on its next write
// and steps down. Kafka is the system
// that must not be double-written, so the fence has to live in Kafka; a Kubernetes Lease would
// be a second, weaker lock (and the API server here serves no coordination.k8s.io at all).
//
// The assignor is sticky: a member that says it leads (its subscription userData) keeps the
// partition, so a standby joining or restarting never moves leadership.
import { EventEmitter } from 'node:events';
import { AssignerProtocol, type Consumer, type Kafka, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '../lib/log.js';

export interface LeaderClaim {
  leading: boolean;
  /** When this member became leader (ms), 0 if not leading. */
  since: number;
  /** When this process started: with no leader, the oldest member takes over. */
  startedAt: number;
  instance: string;
}

export const leaderAssignerName = 'KubetrailLeader';

function decodeClaim(buffer: Buffer): LeaderClaim | undefined {
  try {
    const metadata = AssignerProtocol.MemberMetadata.decode(buffer);
    if (!metadata?.userData?.length) return undefined;
    return JSON.parse(metadata.userData.toString('utf8')) as LeaderClaim;
  } catch {
    return undefined;
  }
}

/**
 * Picks the leader among the members: the most recent claim to lead (the one that fenced the
 * others), else the oldest process, else the smallest member id.
 */
export function chooseLeader(members: Array<{ memberId: string; claim: LeaderClaim | undefined }>): string | undefined {
  const sorted = [...members].sort((a, b) => {
    const la = a.claim?.leading ? 1 : 0;
    const lb = b.claim?.leading ? 1 : 0;
    if (la !== lb) return lb - la;
    if (la && lb && a.claim && b.claim && a.claim.since !== b.claim.since) return b.claim.since - a.claim.since;
    const sa = a.claim?.startedAt ?? Number.MAX_SAFE_INTEGER;
    const sb = b.claim?.startedAt ?? Number.MAX_SAFE_INTEGER;
    if (sa !== sb) return sa - sb;
    return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
  });
  return sorted[0]?.memberId;
}

/** All partitions of the subscribed topics to the chosen leader, nothing to the others. */
export function leaderAssigner(claim: () => LeaderClaim): PartitionAssigner {
  return ({ cluster }) => ({
    name: leaderAssignerName,
    version: 1,
    protocol({ topics }) {
      return {
        name: leaderAssignerName,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(JSON.stringify(claim())) }),
      };
    },
    async assign({ members, topics }) {
      const leader = chooseLeader(members.map((m) => ({ memberId: m.memberId, claim: decodeClaim(m.memberMetadata) })));
      return members.map(({ memberId }) => {
        const assignment: Record<string, number[]> = {};
        if (memberId === leader) {
          for (const topic of topics) assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }),
        };
      });
    },
  });
}

export interface ElectorOptions {
  groupId: string;
  topic: string;
  instance: string;
  sessionTimeoutMs: number;
  logger: Logger;
}

/** Emits 'change' (leading: boolean) whenever this replica gains or loses leadership. */
export class LeaderElector extends EventEmitter {
  private consumer: Consumer | undefined;
  private leadingSince = 0;
  private readonly startedAt = Date.now();
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** True once the group was joined at least once (a standby is then "ready"). */
  joined = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ElectorOptions,
  ) {
    super();
  }

  get leading(): boolean {
    return this.leadingSince > 0;
  }

  private claim = (): LeaderClaim => ({
    leading: this.leading,
    since: this.leadingSince,
    startedAt: this.startedAt,
    instance: this.options.instance,
  });

  private setLeading(leading: boolean, why: string) {
    if (leading === this.leading) return;
    this.leadingSince = leading ? Date.now() : 0;
    this.options.logger.info({ leading, why }, leading ? 'became the leader' : 'not the leader');
    this.emit('change', leading);
  }

  /** A session found itself fenced by another writer: leadership is gone whatever the group says. */
  stepDown(why: string) {
    this.setLeading(false, why);
    // Rejoin so the assignment reflects it (the other writer leads now).
    void this.restart(1_000);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      partitionAssigners: [leaderAssigner(this.claim)],
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: Math.max(10_000, this.options.sessionTimeoutMs * 2),
      heartbeatInterval: Math.min(1_000, Math.floor(this.options.sessionTimeoutMs / 3)),
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
    this.consumer = consumer;
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      if (this.consumer !== consumer) return;
      this.joined = true;
      const partitions = payload.memberAssignment[this.options.topic] ?? [];
      this.setLeading(partitions.length > 0, `group generation joined as ${payload.memberId}`);
      if (partitions.length === 0) this.options.logger.info({ memberId: payload.memberId }, 'standing by');
    });
    consumer.on(CRASH, ({ payload }) => {
      if (this.consumer !== consumer) return;
      this.options.logger.warn({ err: payload.error, restart: payload.restart }, 'leader election consumer crashed');
      this.setLeading(false, 'election consumer crashed');
      if (!payload.restart) void this.restart(2_000);
    });
    for (const event of [STOP, DISCONNECT]) {
      consumer.on(event, () => {
        if (this.consumer === consumer) this.setLeading(false, 'election consumer stopped');
      });
    }
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.options.topic, fromBeginning: false });
      // Only the assignment matters: the partition is paused, nothing is ever fetched, but the
      // consumer's loop keeps heartbeating.
      await consumer.run({ autoCommit: false, eachBatch: async () => {} });
      consumer.pause([{ topic: this.options.topic }]);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'leader election could not join; retrying');
      void this.restart(2_000);
    }
  }

  private async restart(delayMs: number) {
    if (this.stopped || this.restartTimer) return;
    const old = this.consumer;
    this.consumer = undefined;
    this.setLeading(false, 'rejoining');
    await old?.disconnect().catch(() => undefined);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.start();
    }, delayMs);
  }

  /** Leaves the group (a standby takes over at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const consumer = this.consumer;
    this.consumer = undefined;
    this.setLeading(false, 'stopping');
    await consumer?.disconnect().catch(() => undefined);
  }
}
