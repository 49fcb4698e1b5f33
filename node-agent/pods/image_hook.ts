/**
 * The images hook: makes a container's image present as its
 * `imagePullPolicy` says (default `Always` for `:latest` or no tag, else
 * `IfNotPresent`), with the kubelet's events (`Pulling`, `Pulled` with the
 * time it took, `Failed`, `BackOff`) and its back-off: a failed pull gives
 * `ErrImagePull`, and until the back-off (10 s doubling to 5 min) ends the
 * container waits with `ImagePullBackOff`.
 *
 * @module
 */

import {
  type Clock,
  type Container,
  normalizeImageReference,
  parseImageReference,
  type Pod,
  systemClock,
} from "@skiff/api";
import { type EnsuredImage, ImagePullError, type PullPolicy, type Runtime } from "../runtime/mod.ts";
import { Backoff, IMAGE_PULL_BACKOFF } from "./backoff.ts";
import { goDuration } from "./_duration.ts";
import type { ContainerWaiting } from "./pod_status.ts";
import type { EventSink } from "./prober.ts";

/** What {@linkcode ImageHook.ensure} gives. */
export type ImageOutcome =
  | { ok: true; image: EnsuredImage }
  | { ok: false; waiting: ContainerWaiting; retryAfterMs: number };

/** Options of {@linkcode ImageHook}. */
export interface ImageHookOptions {
  /** Pulls images. */
  runtime: Runtime;
  /** Where events go. */
  recorder: EventSink;
  /** Time source for back-off and pull durations. */
  clock?: Clock;
}

/** The pull policy of a container, defaulted as Kubernetes does. */
export function pullPolicyOf(container: Container): PullPolicy {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  try {
    const ref = parseImageReference(container.image ?? "");
    if (ref.digest !== undefined) return "IfNotPresent";
    return ref.tag === undefined || ref.tag === "latest" ? "Always" : "IfNotPresent";
  } catch {
    return "IfNotPresent";
  }
}

/** Ensures containers' images. */
export class ImageHook {
  readonly #runtime: Runtime;
  readonly #recorder: EventSink;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #pulls = new Map<string, Promise<unknown>>();

  /** Creates the hook. */
  constructor(options: ImageHookOptions) {
    this.#runtime = options.runtime;
    this.#recorder = options.recorder;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({ ...IMAGE_PULL_BACKOFF, clock: this.#clock });
  }

  /** Makes the image of `container` present, or says why the container must wait. */
  async ensure(pod: Pod, container: Container, signal?: AbortSignal): Promise<ImageOutcome> {
    const image = container.image ?? "";
    let ref: string;
    try {
      ref = normalizeImageReference(image);
    } catch (error) {
      const message = `Failed to apply default image tag "${image}": ${(error as Error).message}`;
      this.#recorder.event(pod, "Warning", "InspectFailed", message);
      return { ok: false, waiting: { reason: "InvalidImageName", message }, retryAfterMs: IMAGE_PULL_BACKOFF.maxMs };
    }
    const policy = pullPolicyOf(container);
    if (policy !== "Always") {
      const present = (await this.#runtime.listImages()).find((i) => i.ref === ref);
      if (present) {
        this.#recorder.event(pod, "Normal", "Pulled", `Container image "${image}" already present on machine`);
        return { ok: true, image: { ...present, pulled: false } };
      }
      if (policy === "Never") {
        const message = `Container image "${image}" is not present with pull policy of Never`;
        this.#recorder.event(pod, "Warning", "ErrImageNeverPull", message);
        return { ok: false, waiting: { reason: "ErrImageNeverPull", message }, retryAfterMs: IMAGE_PULL_BACKOFF.maxMs };
      }
    }
    const key = `${pod.metadata.uid}_${image}`;
    if (this.#backoff.isInBackOffSinceUpdate(key)) {
      const message = `Back-off pulling image "${image}"`;
      this.#recorder.event(pod, "Normal", "BackOff", message);
      return {
        ok: false,
        waiting: { reason: "ImagePullBackOff", message },
        retryAfterMs: this.#backoff.remainingSinceUpdate(key),
      };
    }
    this.#recorder.event(pod, "Normal", "Pulling", `Pulling image "${image}"`);
    const waitedFrom = this.#clock.now();
    try {
      const pulled = await this.#serialized(ref, async () => {
        const pullFrom = this.#clock.now();
        const result = await this.#runtime.ensureImage(ref, { pullPolicy: policy, ...(signal ? { signal } : {}) });
        return { result, pullMs: this.#clock.now() - pullFrom };
      });
      const total = this.#clock.now() - waitedFrom;
      this.#recorder.event(
        pod,
        "Normal",
        "Pulled",
        `Successfully pulled image "${image}" in ${goDuration(pulled.pullMs)} (${
          goDuration(total)
        } including waiting). ` +
          `Image size: ${pulled.result.sizeBytes} bytes.`,
      );
      return { ok: true, image: pulled.result };
    } catch (error) {
      signal?.throwIfAborted();
      const detail = error instanceof ImagePullError ? error.message : `${(error as Error).message ?? error}`;
      this.#recorder.event(pod, "Warning", "Failed", `Failed to pull image "${image}": ${detail}`);
      this.#backoff.next(key, this.#clock.now());
      // Sync again soon, so the status moves on to ImagePullBackOff while the back-off lasts.
      return {
        ok: false,
        waiting: { reason: "ErrImagePull", message: detail },
        retryAfterMs: Math.min(1000, this.#backoff.get(key)),
      };
    }
  }

  /** Forgets the pull back-off of a pod's images. */
  forgetPod(podUid: string): void {
    this.#backoff.forgetWhere((key) => key.startsWith(`${podUid}_`));
  }

  /** Runs pulls of one image one at a time. */
  async #serialized<T>(ref: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#pulls.get(ref) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.catch(() => undefined);
    this.#pulls.set(ref, settled);
    settled.then(() => {
      if (this.#pulls.get(ref) === settled) this.#pulls.delete(ref);
    });
    return await result;
  }
}
