/**
 * A small pool of module workers that run named, pure jobs (a zstd frame to
 * compress, files to scan), both sides of it: {@link WorkerPool} in the
 * parent and {@link serveJobs} in the worker module.
 *
 * A job is a plain object `{ type, ...fields }`; its handler (the same
 * function on both sides) returns the reply and the buffers to transfer.
 * Workers start when the pool is made, so they load while the caller does
 * other work; jobs wait in the pool until a loaded worker holds fewer than
 * two, then go to the one holding fewest. The calling thread can share the
 * work ({@link WorkerPool.saturated}, {@link WorkerPool.runOneHere}), even
 * take back a job a worker holds but has not started
 * ({@link WorkerPool.stealOne}: each job posted without transfers carries a
 * shared claim word that the worker, or this thread, sets first). With
 * no worker (count 0, or every worker failed to load), jobs run in the
 * calling thread with the same handlers, so results never depend on how
 * many workers there are.
 *
 * Protocol: worker -> parent `{}` once loaded; parent -> worker `{ id, job,
 * claim? }`; worker -> parent `{ id, reply }`, `{ id, error }` (the message)
 * or `{ id, stolen: true }` (this thread claimed the job first).
 *
 * @module
 */

/** A job: its handler's name plus its fields. */
export interface Job {
  /** Names the handler. */
  type: string;
}

/** What a handler returns: the reply and the buffers in it to transfer. */
export interface JobResult<R> {
  /** The reply (structured-cloneable). */
  reply: R;
  /** Buffers of the reply to transfer instead of copy. */
  transfer?: ArrayBuffer[];
}

/** Handlers by job type. */
// deno-lint-ignore no-explicit-any
export type JobHandlers = Record<string, (job: any) => JobResult<unknown>>;

/** A job's outcome: the reply, or the error the handler threw (its message, from a worker). */
export type JobOutcome<R> = { reply: R } | { error: Error };

/** Jobs posted to one worker at a time by default: one running, one queued behind it. */
const PER_WORKER = 2;

/** How a {@link WorkerPool} hands out jobs. */
export interface PoolOptions {
  /** Jobs posted to one worker at a time (default 2: one running, one queued). */
  perWorker?: number;
  /**
   * Post jobs without transfers to workers that have not loaded yet (they
   * take them once loaded, unless this thread takes them back first with
   * {@link WorkerPool.stealOne}): no job waits for a worker's first message,
   * which this thread only sees when it lets its event loop run.
   */
  early?: boolean;
}

interface Pending {
  id: number;
  job: Job;
  transfer: ArrayBuffer[];
  resolve: (o: JobOutcome<unknown>) => void;
  /** Set to 1 by the worker that starts the job, to 2 by this thread taking it back. */
  claim?: Int32Array;
}

/** {@link Pending.claim}: not started. */
const UNCLAIMED = 0;
/** {@link Pending.claim}: started by the worker. */
const CLAIMED_BY_WORKER = 1;
/** {@link Pending.claim}: taken back by the parent. */
const CLAIMED_HERE = 2;

interface Slot {
  worker: Worker;
  /** Whether the worker has loaded (it says so with its first message). */
  ready: boolean;
  /** Jobs posted to it and not answered. */
  pending: Map<number, Pending>;
}

/**
 * Default number of workers: one less than the machine's cores (the calling
 * thread takes jobs too, see {@link WorkerPool.runOneHere}), at least 1, at
 * most 8. Each worker costs tens of milliseconds to start.
 */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(8, (navigator.hardwareConcurrency || 1) - 1));
}

/**
 * Workers running the jobs of `handlers`, loaded from `module` (a module
 * that calls {@link serveJobs} with the same handlers). Stop them with
 * {@link WorkerPool.close} (or `using`). A worker that fails to load is
 * dropped; one that fails later fails the jobs it holds.
 */
export class WorkerPool implements Disposable {
  #slots: Slot[] = [];
  #waiting: Pending[] = [];
  #nextId = 0;
  #perWorker: number;
  #early: boolean;

  /**
   * Starts `count` workers of `module`.
   *
   * @param module The worker module's URL.
   * @param handlers The handlers, for jobs run in this thread.
   * @param count Workers to start (0: run every job in this thread).
   * @param options How jobs are handed out.
   */
  constructor(
    module: URL,
    readonly handlers: JobHandlers,
    readonly count: number = defaultWorkerCount(),
    options: PoolOptions = {},
  ) {
    this.#perWorker = Math.max(1, options.perWorker ?? PER_WORKER);
    this.#early = options.early ?? false;
    for (let i = 0; i < count; i++) {
      const worker = new Worker(module.href, { type: "module" });
      const slot: Slot = { worker, ready: false, pending: new Map() };
      worker.onmessage = (e: MessageEvent) => this.#reply(slot, e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#drop(slot);
      };
      this.#slots.push(slot);
    }
  }

  /**
   * Runs a job; `transfer` lists its buffers to hand over (detached here).
   * Never rejects: the outcome carries the handler's error.
   */
  run<R>(job: Job, transfer: ArrayBuffer[] = []): Promise<JobOutcome<R>> {
    if (this.#slots.length === 0) return Promise.resolve(runHere<R>(this.handlers, job));
    return new Promise<JobOutcome<R>>((resolve) => {
      const pending = { id: this.#nextId++, job, transfer, resolve } as Pending;
      this.#waiting.push(pending);
      this.#dispatch();
    });
  }

  /**
   * Whether a job run now would have to wait: no loaded worker can take one
   * (all hold two, or none has loaded yet) or jobs are waiting already. The
   * caller may then run its job in this thread instead of queueing it.
   */
  saturated(): boolean {
    if (this.#slots.length === 0 || this.#waiting.length > 0) return true;
    return !this.#slots.some((s) => s.ready && s.pending.size < this.#perWorker);
  }

  /**
   * Runs the oldest (or, with `newest`, the newest) waiting job in this
   * thread (its promise resolves with the outcome); false when none waits.
   * Lets the calling thread share the work while it would otherwise wait
   * for the workers.
   */
  runOneHere(newest = false): boolean {
    const p = newest ? this.#waiting.pop() : this.#waiting.shift();
    if (!p) return false;
    p.resolve(runHere(this.handlers, p.job));
    return true;
  }

  /**
   * Takes back a job that a worker holds but has not started (one posted
   * without transfers): the newest such job of the first worker, in the
   * order they were started, that holds one; runs it in this thread. False
   * when there is none. Lets this thread share the last jobs rather than wait for a
   * worker that holds two.
   */
  stealOne(): boolean {
    for (const slot of this.#slots) {
      const posted = [...slot.pending.values()].reverse();
      for (const p of posted) {
        if (!p.claim) continue;
        if (Atomics.compareExchange(p.claim, 0, UNCLAIMED, CLAIMED_HERE) !== UNCLAIMED) continue;
        slot.pending.delete(p.id); // the worker answers `stolen`, which finds nothing
        p.resolve(runHere(this.handlers, p.job));
        return true;
      }
    }
    return false;
  }

  /**
   * Jobs not started yet: waiting in the pool, or posted to a worker that
   * has not claimed them (counted for jobs that carry a claim).
   */
  unstarted(): number {
    let n = this.#waiting.length;
    for (const slot of this.#slots) {
      for (const p of slot.pending.values()) {
        if (p.claim && Atomics.load(p.claim, 0) === UNCLAIMED) n++;
      }
    }
    return n;
  }

  /** Runs a job in this thread now, with the pool's handlers. */
  runHere<R>(job: Job): JobOutcome<R> {
    return runHere<R>(this.handlers, job);
  }

  /** Posts waiting jobs to loaded workers, fewest pending first. */
  #dispatch(): void {
    if (this.#slots.length === 0) {
      for (const p of this.#waiting.splice(0)) p.resolve(runHere(this.handlers, p.job));
      return;
    }
    while (this.#waiting.length) {
      const early = this.#early && this.#waiting[0].transfer.length === 0;
      const ready = this.#slots.filter((s) => s.ready || early);
      if (ready.length === 0) return;
      const slot = ready.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      if (slot.pending.size >= this.#perWorker) return;
      const p = this.#waiting.shift()!;
      slot.pending.set(p.id, p);
      if (p.transfer.length === 0) p.claim = new Int32Array(new SharedArrayBuffer(4));
      slot.worker.postMessage({ id: p.id, job: p.job, claim: p.claim }, p.transfer);
    }
  }

  #reply(
    slot: Slot,
    msg: { id?: number; reply?: unknown; error?: string; stolen?: boolean },
  ): void {
    if (msg.id === undefined) {
      slot.ready = true; // the worker's first message: loaded
      this.#dispatch();
      return;
    }
    const p = slot.pending.get(msg.id);
    if (!p) return this.#dispatch(); // a job taken back (stealOne)
    slot.pending.delete(msg.id);
    p.resolve(msg.error !== undefined ? { error: new Error(msg.error) } : { reply: msg.reply });
    this.#dispatch();
  }

  /** Drops a failed worker; the jobs it holds (their buffers went to it) fail. */
  #drop(slot: Slot): void {
    slot.worker.terminate();
    this.#slots = this.#slots.filter((s) => s !== slot);
    for (const p of slot.pending.values()) p.resolve({ error: new Error("a worker failed") });
    slot.pending.clear();
    this.#dispatch();
  }

  /** Stops every worker. Jobs not yet answered never are. */
  close(): void {
    for (const s of this.#slots) s.worker.terminate();
    this.#slots = [];
    this.#waiting = [];
  }

  /** Same as {@link WorkerPool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Lets the event loop run once (a message to itself, not a timer, so no
 * clamping): workers' replies that arrived meanwhile are handled.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

function runHere<R>(handlers: JobHandlers, job: Job): JobOutcome<R> {
  const handler = handlers[job.type];
  if (!handler) return { error: new Error(`no handler for job ${job.type}`) };
  try {
    return { reply: handler(job).reply as R };
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)) };
  }
}

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}

/**
 * The worker side: answers `{ id, job }` messages with `handlers`, one at a
 * time, in order, after saying it has loaded. Call it once, from the worker
 * module's top level.
 */
export function serveJobs(handlers: JobHandlers): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e: MessageEvent) => {
    const { id, job, claim } = e.data as { id: number; job: Job; claim?: Int32Array };
    if (claim && Atomics.compareExchange(claim, 0, UNCLAIMED, CLAIMED_BY_WORKER) !== UNCLAIMED) {
      scope.postMessage({ id, stolen: true });
      return;
    }
    let result: JobResult<unknown>;
    try {
      const handler = handlers[job.type];
      if (!handler) throw new Error(`no handler for job ${job.type}`);
      result = handler(job);
    } catch (err) {
      scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    scope.postMessage({ id, reply: result.reply }, result.transfer ?? []);
  };
  scope.postMessage({});
}
