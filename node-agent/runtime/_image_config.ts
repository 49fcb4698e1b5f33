/**
 * What the runtime needs to know about an image present in containerd: the
 * platform manifest, its config (entrypoint, cmd, env, working dir, user),
 * the chain id of its layers (the snapshot to start a rootfs from) and its
 * size. Read from the content store with `ctr content get`; everything is
 * keyed by digest, so it is cached for good.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Ctr } from "./_ctr.ts";

/** The parts of an OCI image config the runtime uses. */
export interface ImageConfig {
  /** `Entrypoint`. */
  entrypoint: string[];
  /** `Cmd`. */
  cmd: string[];
  /** `Env`, as `NAME=value`. */
  env: string[];
  /** `WorkingDir`. */
  workingDir: string;
  /** `User`, e.g. `1000`, `nobody`, `1000:100`. */
  user: string;
  /** `StopSignal`. */
  stopSignal: string;
}

/** An image resolved for the host platform. */
export interface ResolvedImage {
  /** The digest of the image's target (manifest or index), its id. */
  digest: string;
  /** The architecture of the platform manifest. */
  architecture: string;
  /** Manifest, config and layer sizes, in bytes. */
  sizeBytes: number;
  /** The chain id of its layers (the parent of a container's snapshot). */
  chainId: string;
  /** Its config. */
  config: ImageConfig;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { architecture?: string; os?: string; variant?: string };
}

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

/** The OCI architecture name of this machine. */
export function hostArchitecture(): string {
  switch (Deno.build.arch) {
    case "x86_64":
      return "amd64";
    case "aarch64":
      return "arm64";
    default:
      return Deno.build.arch;
  }
}

/** The chain id of layers with these diff ids, as containerd names their committed snapshot. */
export function chainId(diffIds: readonly string[]): string {
  let chain = "";
  for (const diffId of diffIds) {
    chain = chain === "" ? diffId : `sha256:${createHash("sha256").update(`${chain} ${diffId}`).digest("hex")}`;
  }
  if (chain === "") throw new TypeError("Cannot compute a chain id: the image has no layers");
  return chain;
}

/** Reads and caches image details from containerd's content store. */
export class ImageResolver {
  readonly #ctr: Ctr;
  readonly #architecture: string;
  readonly #cache = new Map<string, Promise<ResolvedImage>>();

  /** Resolves through `ctr`, for `architecture` (default: the host's). */
  constructor(ctr: Ctr, architecture = hostArchitecture()) {
    this.#ctr = ctr;
    this.#architecture = architecture;
  }

  /** The details of the image whose target is `digest` (media type `mediaType`). */
  resolve(digest: string, mediaType: string): Promise<ResolvedImage> {
    let pending = this.#cache.get(digest);
    if (!pending) {
      pending = this.#resolve(digest, mediaType);
      pending.catch(() => this.#cache.delete(digest));
      this.#cache.set(digest, pending);
    }
    return pending;
  }

  async #resolve(digest: string, mediaType: string): Promise<ResolvedImage> {
    let manifestDigest = digest;
    let architecture = this.#architecture;
    if (INDEX_TYPES.has(mediaType)) {
      const index = JSON.parse(await this.#ctr.contentGet(digest)) as { manifests?: Descriptor[] };
      const candidates = (index.manifests ?? []).filter((m) =>
        (m.platform?.os ?? "linux") === "linux" && m.platform?.architecture === this.#architecture
      );
      const chosen = candidates.find((m) => m.platform?.variant === undefined || m.platform.variant === "v8") ??
        candidates[0];
      if (!chosen) {
        throw new Error(`Image ${digest} has no manifest for platform linux/${this.#architecture}`);
      }
      manifestDigest = chosen.digest;
    }
    const manifestText = await this.#ctr.contentGet(manifestDigest);
    const manifest = JSON.parse(manifestText) as { config: Descriptor; layers?: Descriptor[] };
    const configJson = JSON.parse(await this.#ctr.contentGet(manifest.config.digest)) as {
      architecture?: string;
      config?: {
        Entrypoint?: string[] | null;
        Cmd?: string[] | null;
        Env?: string[] | null;
        WorkingDir?: string;
        User?: string;
        StopSignal?: string;
      } | null;
      rootfs?: { diff_ids?: string[] };
    };
    architecture = configJson.architecture ?? architecture;
    const layers = manifest.layers ?? [];
    const c = configJson.config ?? {};
    return {
      digest,
      architecture,
      sizeBytes: new TextEncoder().encode(manifestText).length + manifest.config.size +
        layers.reduce((sum, l) => sum + l.size, 0),
      chainId: chainId(configJson.rootfs?.diff_ids ?? []),
      config: {
        entrypoint: c.Entrypoint ?? [],
        cmd: c.Cmd ?? [],
        env: c.Env ?? [],
        workingDir: c.WorkingDir ?? "",
        user: c.User ?? "",
        stopSignal: c.StopSignal ?? "",
      },
    };
  }
}
