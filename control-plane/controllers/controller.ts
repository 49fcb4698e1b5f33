/**
 * The controller framework: shared informers feed keys into a work queue;
 * workers call `reconcile(key)`; retries with backoff stay outside the
 * business function, and one key is never reconciled twice at once.
 *
 * @module
 */

import type { Clock, KubeObject, OwnerReference } from "@skiff/api";
import {
  type ApiClient,
  type EventRecorder,
  objectKey,
  runWorkers,
  type SharedInformers,
  WorkQueue,
} from "@skiff/client";

/** What every controller gets. */
export interface ControllerContext {
  /** The API client (in process: through the handler, with all checks). */
  client: ApiClient;
  /** Informers shared by every controller in the process. */
  informers: SharedInformers;
  /** Event recorder. */
  recorder: EventRecorder;
  /** Time source. */
  clock: Clock;
  /** Log line sink. */
  log: (line: string) => void;
}

/** A controller. */
export interface Controller {
  /** Its name, for logs. */
  readonly name: string;
  /** Registers informer handlers; called before the informers start. */
  setup(ctx: ControllerContext): void;
  /** Reconciles until `signal` aborts; called once the informers have synced. */
  run(signal: AbortSignal): Promise<void>;
}

/** A controller whose work is a queue of keys reconciled by workers. */
export abstract class QueueController implements Controller {
  /** Its name, for logs. */
  readonly name: string;
  #workers: number;
  #queue: WorkQueue | undefined;
  #ctx: ControllerContext | undefined;

  /** Creates a controller with `workers` concurrent workers. */
  constructor(name: string, workers = 2) {
    this.name = name;
    this.#workers = workers;
  }

  /** The context (after setup). */
  protected get ctx(): ControllerContext {
    if (!this.#ctx) throw new TypeError(`Controller ${this.name} used before setup()`);
    return this.#ctx;
  }

  /** The queue (after setup). */
  protected get queue(): WorkQueue {
    if (!this.#queue) throw new TypeError(`Controller ${this.name} used before setup()`);
    return this.#queue;
  }

  /** Stores the context, creates the queue, then calls {@linkcode QueueController.register}. */
  setup(ctx: ControllerContext): void {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.register(ctx);
  }

  /** Registers informer handlers that enqueue keys. */
  protected abstract register(ctx: ControllerContext): void;

  /** Brings the object behind `key` to its desired state; throw to retry with backoff. */
  abstract reconcile(key: string): Promise<void>;

  /** Queues a key. */
  enqueue(key: string): void {
    this.#queue?.add(key);
  }

  /** Runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const queue = this.queue;
    signal.addEventListener("abort", () => queue.shutdown(), { once: true });
    await runWorkers(queue, this.#workers, (key) => this.reconcile(key), (key, err) => {
      if (queue.retries(key) % 5 === 0) {
        this.ctx.log(`${this.name}: cannot reconcile ${key}: ${err instanceof Error ? err.message : err}; retrying`);
      }
    });
  }
}

/** The owner reference that marks `owner` as the controller of a dependent. */
export function controllerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion!,
    kind: owner.kind!,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The controlling owner reference of `obj`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

/** The key of `obj`'s controller if it is of `kind` (namespaced like `obj`). */
export function controllerKey(obj: KubeObject, kind: string): string | undefined {
  const ref = controllerOf(obj);
  if (!ref || ref.kind !== kind) return undefined;
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${ref.name}` : ref.name;
}

/** True when `obj` is controlled by `owner` (same uid). */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  return controllerOf(obj)?.uid === owner.metadata.uid;
}

/** Enqueue helper: the key of an object. */
export { objectKey };

/** A pod is active while it is neither finished nor being deleted. */
export function isActivePod(pod: KubeObject): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return !pod.metadata.deletionTimestamp && phase !== "Succeeded" && phase !== "Failed";
}

/** A pod is ready when its Ready condition is True. */
export function isPodReady(pod: KubeObject): boolean {
  const conditions = (pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions;
  return conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** A pod is available when it has been ready for at least `minReadySeconds`. */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  const conditions = (pod.status as { conditions?: { type: string; status: string; lastTransitionTime?: string }[] })
    ?.conditions;
  const ready = conditions?.find((c) => c.type === "Ready" && c.status === "True");
  if (!ready) return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : now;
  return since + minReadySeconds * 1000 <= now;
}
