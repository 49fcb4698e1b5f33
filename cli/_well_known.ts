/**
 * Annotation and label names the CLI reads or writes, as kubectl and the
 * Skiff agent use them.
 *
 * @module
 */

/** What `apply` applied last (kubectl's client-side apply). */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";
/** The revision of a Deployment and of each of its ReplicaSets. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** Why a revision was made (shown by `rollout history`). */
export const CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause";
/** Set on a pod template by `rollout restart`. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";
/** The container `logs` and `exec` pick when none is named. */
export const DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container";
/** Marks mirror (static) pods, which `drain` cannot evict. */
export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** The node annotation where the agent publishes the temperature, in °C. */
export const TEMPERATURE_ANNOTATION = "hardware.skiff.dev/temperature-celsius";
