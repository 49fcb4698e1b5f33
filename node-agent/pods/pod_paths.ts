/**
 * Names and places of a pod's things on the node: container ids, and the
 * pod directory `<dataDir>/pods/<uid>/` holding its volumes, its container
 * logs, its `/etc/hosts` and `/etc/resolv.conf`, and its containers'
 * termination-message files:
 *
 * ```
 * <dataDir>/pods/<uid>/
 *   etc-hosts                            bound to /etc/hosts
 *   resolv.conf                          bound to /etc/resolv.conf
 *   volumes.json                         what was mounted or published, for clean-up after a restart
 *   volumes/<plugin>/<volume>/           kubernetes.io~empty-dir, kubernetes.io~configmap, <csi driver>, …
 *   logs/<container>/<restartCount>.log  the container's output, as the runtime writes it
 *   containers/<container>/<id>          bound to the container's terminationMessagePath
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";

/** containerd's rule for identifiers: alphanumerics joined by single `.`, `_` or `-`, at most 76 characters. */
const CONTAINERD_ID = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const MAX_ID_LENGTH = 76;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function shortHash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * The container id of one run of a pod's container:
 * `<pod uid>_<container name>_<restart count>`, stable and unique on the
 * node, and valid for containerd. Parts that would break containerd's rule
 * (a name with `--`, an unusual uid, too long a result) are replaced by a
 * hash of themselves.
 *
 * @example
 * ```ts
 * containerId("0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e", "web", 2);
 * // "0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e_web_2"
 * ```
 */
export function containerId(podUid: string, containerName: string, restartCount: number): string {
  if (!Number.isSafeInteger(restartCount) || restartCount < 0) {
    throw new RangeError(`Invalid restart count ${restartCount}: expected a whole number of at least 0`);
  }
  const uid = CONTAINERD_ID.test(podUid) && podUid.length <= 36 ? podUid : shortHash(podUid, 32);
  const plain = `${uid}_${containerName}_${restartCount}`;
  if (CONTAINERD_ID.test(plain) && plain.length <= MAX_ID_LENGTH) return plain;
  return `${uid}_${shortHash(containerName, 16)}_${restartCount}`;
}

/**
 * The directory of a pod.
 *
 * @throws {TypeError} when the uid is not a single path segment.
 */
export function podDir(dataDir: string, podUid: string): string {
  if (!SEGMENT.test(podUid) || podUid.length > 128) {
    throw new TypeError(
      `Invalid pod uid "${podUid}": expected letters, digits, "-", "_" or "." (a single path segment)`,
    );
  }
  return join(dataDir, "pods", podUid);
}

/** Where the pods' directories are: `<dataDir>/pods`. */
export function podsRoot(dataDir: string): string {
  return join(dataDir, "pods");
}

/**
 * The log file of one run of a container:
 * `<dataDir>/pods/<uid>/logs/<container>/<restartCount>.log` (the kubelet's
 * `/var/log/pods/…/<container>/<restartCount>.log`). The previous run's file
 * stays while that container is kept, so `logs --previous` can read it.
 */
export function containerLogPath(
  dataDir: string,
  podUid: string,
  container: { name: string; restartCount: number },
): string {
  return join(podDir(dataDir, podUid), "logs", container.name, `${container.restartCount}.log`);
}

/** The file bound to a container's `terminationMessagePath`. */
export function terminationMessagePath(
  dataDir: string,
  podUid: string,
  container: { name: string; id: string },
): string {
  return join(podDir(dataDir, podUid), "containers", container.name, container.id);
}
