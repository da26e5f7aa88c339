/**
 * The node agents: their records (GPUs, executors, state), cached and kept current by the store's watch, and
 * their liveness. A node silent for 3 heartbeat periods is lost. Silence is measured by this replica's own clock
 * from the last time the node called in to this replica, the last time this replica saw the node's record change
 * (another replica storing a heartbeat), or this replica's start, whichever is latest: a NATS outage (heartbeats
 * not storable) or a trainer restart must not make healthy nodes lost, and the heartbeat time another replica
 * wrote by its clock is never compared with this one's.
 */
import { clone } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Gpu, type Node, NodeSchema, NodeState } from "@ragtune/contracts/trainer";
import { notFound } from "@ragtune/runtime";
import { RecordCache } from "../store/record-cache.js";
import { type RecordStore, RevisionConflictError } from "../store/record-store.js";

/** Heartbeat periods a node may miss before it is lost. */
const MISSED_HEARTBEATS = 3;

export class NodeRegistry {
  private readonly records: RecordCache<Node>;
  /** When each node last called in, whether or not that could be stored. */
  private readonly lastSeenMs = new Map<string, number>();
  private startedAtMs = 0;

  constructor(
    private readonly store: RecordStore<Node>,
    readonly heartbeatIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.records = new RecordCache(
      store,
      (node) => node.nodeId,
      (node) => this.seen(node.nodeId, this.now()),
    );
  }

  private seen(nodeId: string, atMs: number) {
    this.lastSeenMs.set(nodeId, Math.max(atMs, this.lastSeenMs.get(nodeId) ?? 0));
  }

  /** Nodes get a full grace period from now, however old their last stored heartbeat. */
  startGracePeriod(nowMs: number) {
    this.startedAtMs = nowMs;
  }

  /** Follows every later write (other replicas' too); returns the stop function. */
  follow(): Promise<() => void> {
    return this.records.follow();
  }

  load(): Promise<void> {
    return this.records.load();
  }

  get(nodeId: string): Node | undefined {
    return this.records.get(nodeId)?.value;
  }

  has(nodeId: string): boolean {
    return this.records.get(nodeId) !== undefined;
  }

  all(): Node[] {
    return this.records.values();
  }

  async save(node: Node): Promise<Node> {
    const revision = await this.store.put(node.nodeId, node);
    this.records.apply({ value: node, revision });
    return node;
  }

  /** The node an agent registers, READY as of now (not stored yet). */
  registered(offered: Node, nowMs: number): Node {
    const node = clone(NodeSchema, offered);
    node.state = NodeState.READY;
    node.lastHeartbeatTime = timestampFromMs(nowMs);
    this.seen(node.nodeId, nowMs);
    return node;
  }

  /**
   * The node after a heartbeat, READY with the GPUs' reported free memory (not stored yet); `wasLost` when it
   * comes back from being lost. NOT_FOUND for a node that never registered.
   */
  heartbeat(nodeId: string, gpus: readonly Gpu[], nowMs: number): { node: Node; wasLost: boolean } {
    const record = this.records.get(nodeId);
    if (!record) throw notFound("node", nodeId);
    this.seen(nodeId, nowMs);
    const node = clone(NodeSchema, record.value);
    const wasLost = node.state === NodeState.LOST;
    node.state = NodeState.READY;
    node.lastHeartbeatTime = timestampFromMs(nowMs);
    for (const reported of gpus) {
      const gpu = node.gpus.find((g) => g.index === reported.index);
      if (gpu) gpu.memoryFreeBytes = reported.memoryFreeBytes;
    }
    return { node, wasLost };
  }

  /** True when the node is not lost yet but has been silent for longer than it may be. */
  isSilent(node: Node, nowMs: number): boolean {
    if (node.state === NodeState.LOST) return false;
    const last = Math.max(this.startedAtMs, this.lastSeenMs.get(node.nodeId) ?? 0);
    return nowMs - last > MISSED_HEARTBEATS * this.heartbeatIntervalMs;
  }

  /**
   * Stores the node as LOST, unless its record changed since this replica read it (a heartbeat stored through
   * another replica): then undefined, and the node stays.
   */
  async markLost(node: Node): Promise<Node | undefined> {
    const record = this.records.get(node.nodeId);
    const lost = clone(NodeSchema, record?.value ?? node);
    lost.state = NodeState.LOST;
    try {
      const revision = record
        ? await this.store.update(node.nodeId, lost, record.revision)
        : await this.store.put(node.nodeId, lost);
      this.records.apply({ value: lost, revision });
      return lost;
    } catch (error) {
      if (!(error instanceof RevisionConflictError)) throw error;
      await this.records.reload(node.nodeId);
      return undefined;
    }
  }

  gpu(nodeId: string, gpuIndex: number | undefined): Gpu | undefined {
    return this.records.get(nodeId)?.value.gpus.find((g) => g.index === gpuIndex);
  }

  /** Total memory of the largest GPU of any node not lost, By (0 without GPUs). */
  largestGpuBytes(): number {
    return Number(this.largestGpu(() => true)?.gpu.memoryTotalBytes ?? 0);
  }

  /** The largest GPU of a node not lost that runs `executor`, with its node's id. */
  largestGpuFor(executor: string): { nodeId: string; gpu: Gpu } | undefined {
    return this.largestGpu((node) => node.executors.includes(executor));
  }

  private largestGpu(accept: (node: Node) => boolean): { nodeId: string; gpu: Gpu } | undefined {
    let largest: { nodeId: string; gpu: Gpu } | undefined;
    for (const node of this.all()) {
      if (node.state === NodeState.LOST || !accept(node)) continue;
      for (const gpu of node.gpus) {
        if (!largest || gpu.memoryTotalBytes > largest.gpu.memoryTotalBytes) largest = { nodeId: node.nodeId, gpu };
      }
    }
    return largest;
  }
}
