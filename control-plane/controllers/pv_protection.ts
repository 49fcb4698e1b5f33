/**
 * PV protection: a PersistentVolume keeps the `kubernetes.io/pv-protection`
 * finalizer (admission adds it on create; this controller adds it to
 * volumes that lack it), and once its deletion is asked for the finalizer
 * goes only when the volume is no longer Bound to a claim. While it waits,
 * the volume says so in an event.
 *
 * @module
 */

import { FINALIZER_PV_PROTECTION, type PersistentVolume } from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, objectKey, QueueController } from "./controller.ts";
import { ignoreNotFound } from "./_workload.ts";

function hasFinalizer(volume: PersistentVolume): boolean {
  return volume.metadata.finalizers?.includes(FINALIZER_PV_PROTECTION) ?? false;
}

/** The PV protection controller. */
export class PvProtectionController extends QueueController {
  #volumes!: Informer<PersistentVolume>;

  /** Creates the controller. */
  constructor() {
    super("pv-protection-controller", 1);
  }

  protected register(ctx: ControllerContext): void {
    this.#volumes = ctx.informers.for<PersistentVolume>("v1", "PersistentVolume");
    const check = (volume: PersistentVolume) => {
      const deleting = Boolean(volume.metadata.deletionTimestamp);
      if (deleting === hasFinalizer(volume)) this.enqueue(objectKey(volume));
    };
    this.#volumes.on({ add: check, update: (_old, volume) => check(volume) });
  }

  async reconcile(key: string): Promise<void> {
    const volume = this.#volumes.get(key);
    if (!volume) return;
    const volumes = this.ctx.client.kind<PersistentVolume>("v1", "PersistentVolume");
    const { name, resourceVersion } = volume.metadata;
    const finalizers = volume.metadata.finalizers ?? [];
    if (!volume.metadata.deletionTimestamp) {
      if (hasFinalizer(volume)) return;
      await ignoreNotFound(volumes.patch(name!, {
        metadata: { resourceVersion, finalizers: [...finalizers, FINALIZER_PV_PROTECTION] },
      }));
      return;
    }
    if (!hasFinalizer(volume)) return;
    if (volume.status?.phase === "Bound") {
      const ref = volume.spec?.claimRef;
      this.ctx.recorder.event(
        volume,
        "Normal",
        "VolumeInUse",
        `Deletion is held while the volume is bound to claim ${ref?.namespace}/${ref?.name}; ` +
          "it is removed once the claim is deleted (kubernetes.io/pv-protection)",
      );
      return;
    }
    await ignoreNotFound(volumes.patch(name!, {
      metadata: { resourceVersion, finalizers: finalizers.filter((f) => f !== FINALIZER_PV_PROTECTION) },
    }));
  }
}
