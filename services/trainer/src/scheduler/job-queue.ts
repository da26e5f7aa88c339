/**
 * The jobs as this replica sees them: an in-memory cache of the job records, kept current by the store's watch so
 * several trainer replicas see each other's transitions. Every change goes through `mutate`, which applies a pure
 * transition (job-lifecycle.ts) to the newest record with a revision check and re-reads on a conflict.
 */
import { clone } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Job, JobSchema, JobState } from "@ragtune/contracts/trainer";
import { notFound, unavailable, waitForWake } from "@ragtune/runtime";
import { RecordCache } from "../store/record-cache.js";
import { type RecordStore, RevisionConflictError, type Versioned } from "../store/record-store.js";
import { isActive, isTerminal } from "./job-lifecycle.js";

/** Conflicting writes tolerated before a change gives up (another replica keeps winning). */
const CAS_RETRIES = 8;

type JobListener = (job: Job) => void;

export class JobQueue {
  private readonly records: RecordCache<Job>;
  private readonly listeners = new Set<JobListener>();
  private readonly locks = new Map<string, Promise<unknown>>();

  /** `onQueued` runs whenever a job enters (or is seen in) the queue: placement has work. */
  constructor(
    private readonly store: RecordStore<Job>,
    onQueued: () => void = () => {},
  ) {
    this.records = new RecordCache(
      store,
      (job) => job.jobId,
      (job) => {
        for (const listener of this.listeners) listener(job);
        if (job.state === JobState.QUEUED) onQueued();
      },
    );
  }

  /** Follows every later write (other replicas' too); returns the stop function. */
  follow(): Promise<() => void> {
    return this.records.follow();
  }

  /** Reads every stored job into the cache (at start, and when taking placement over from another replica). */
  load(): Promise<void> {
    return this.records.load();
  }

  /** The cached job, or the stored one when this replica has not seen it yet. */
  async find(jobId: string): Promise<Job | undefined> {
    return (this.records.get(jobId) ?? (await this.records.reload(jobId)))?.value;
  }

  /** The cached job, if this replica has seen it. */
  cached(jobId: string): Job | undefined {
    return this.records.get(jobId)?.value;
  }

  /** The cached job with the revision it was read at. */
  cachedRecord(jobId: string): Versioned<Job> | undefined {
    return this.records.get(jobId);
  }

  /** Reads the job from the store now (another replica may have changed it since the cache last heard). */
  reread(jobId: string): Promise<Versioned<Job> | undefined> {
    return this.records.reload(jobId);
  }

  /** The cached job; NOT_FOUND when there is none. */
  get(jobId: string): Job {
    const record = this.records.get(jobId);
    if (!record) throw notFound("job", jobId);
    return record.value;
  }

  /** Stores a new job; when another replica created that id first, returns its job with `created` false. */
  async create(job: Job): Promise<{ job: Job; created: boolean }> {
    try {
      const revision = await this.store.create(job.jobId, job);
      this.records.apply({ value: job, revision });
      return { job, created: true };
    } catch (error) {
      if (!(error instanceof RevisionConflictError)) throw error;
      const raced = await this.records.reload(job.jobId);
      if (!raced) throw error;
      return { job: raced.value, created: false };
    }
  }

  /** Applies `change` to the newest job record with a revision check; returns the job and whether it changed. */
  mutate(jobId: string, change: (job: Job) => boolean): Promise<{ job: Job; changed: boolean }> {
    return this.withLock(`job/${jobId}`, async () => {
      for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
        const current = this.records.get(jobId) ?? (await this.records.reload(jobId));
        if (!current) throw notFound("job", jobId);
        const next = clone(JobSchema, current.value);
        if (!change(next)) return { job: current.value, changed: false };
        try {
          const revision = await this.store.update(jobId, next, current.revision);
          this.records.apply({ value: next, revision });
          return { job: next, changed: true };
        } catch (error) {
          if (!(error instanceof RevisionConflictError)) throw error;
          await this.records.reload(jobId);
        }
      }
      throw unavailable(`job "${jobId}" kept changing concurrently; try again`);
    });
  }

  /**
   * Applies `change` only if the stored job is still at `revision`, without re-reading and retrying on a
   * conflict: for writes whose decision rests on what was read (placement, or fencing out a stale placer by
   * moving a job's revision on). Returns whether it was written.
   */
  writeAt(jobId: string, revision: number, change: (job: Job) => boolean): Promise<{ job?: Job; changed: boolean }> {
    return this.withLock(`job/${jobId}`, async () => {
      const current = this.records.get(jobId);
      if (!current || current.revision !== revision) return { changed: false };
      const next = clone(JobSchema, current.value);
      if (!change(next)) return { changed: false };
      try {
        const written = await this.store.update(jobId, next, revision);
        this.records.apply({ value: next, revision: written });
        return { job: next, changed: true };
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
        await this.records.reload(jobId);
        return { changed: false };
      }
    });
  }

  /** One change per job at a time in this replica, so its own writes do not conflict with each other. */
  private async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  all(): Job[] {
    return this.records.values();
  }

  /** Jobs placed on or running on the node. */
  activeOn(nodeId: string): Job[] {
    return this.all().filter((job) => isActive(job) && job.nodeId === nodeId);
  }

  /** Newest first; the page token is the offset. */
  list(states: JobState[], pageSize: number, pageToken: string): { jobs: Job[]; nextPageToken: string } {
    const wanted = new Set(states);
    const all = this.all()
      .filter((job) => wanted.size === 0 || wanted.has(job.state))
      .sort((a, b) => msOf(b.createTime) - msOf(a.createTime) || a.jobId.localeCompare(b.jobId));
    const offset = Number(pageToken || 0);
    const size = pageSize || 100;
    const jobs = all.slice(offset, offset + size);
    return { jobs, nextPageToken: offset + size < all.length ? String(offset + size) : "" };
  }

  /** The job's current state, then every change until it ends (or `signal` aborts). */
  async *watch(jobId: string, signal?: AbortSignal): AsyncGenerator<Job> {
    const queue: Job[] = [];
    let wake: (() => void) | undefined;
    const listener: JobListener = (job) => {
      if (job.jobId !== jobId) return;
      queue.push(job);
      wake?.();
    };
    this.listeners.add(listener);
    try {
      const first = this.get(jobId);
      yield first;
      if (isTerminal(first)) return;
      while (!signal?.aborted) {
        if (queue.length === 0) {
          await waitForWake(signal, (woken) => {
            wake = woken;
          });
          wake = undefined;
        }
        while (queue.length) {
          const job = queue.shift() as Job;
          yield job;
          if (isTerminal(job)) return;
        }
      }
    } finally {
      this.listeners.delete(listener);
    }
  }

  /** Resolves when a job change matches, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  waitFor(match: (job: Job) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const listener: JobListener = (job) => {
        if (match(job)) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(listener);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

export function msOf(timestamp: Parameters<typeof timestampMs>[0] | undefined): number {
  return timestamp ? timestampMs(timestamp) : 0;
}

/** Higher priority first, then older first. */
export function byPriority(a: Job, b: Job): number {
  return b.priority - a.priority || msOf(a.createTime) - msOf(b.createTime) || a.jobId.localeCompare(b.jobId);
}
