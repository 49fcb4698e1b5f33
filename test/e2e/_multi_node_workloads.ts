/**
 * Workloads the multi-node e2e tests share: a web Deployment of busybox
 * pods that serve their own name over HTTP and echo lines back, and a wait
 * for its pods to be Ready.
 *
 * @module
 */

import type { Deployment, Pod, Toleration } from "@skiff/api";
import type { ApiClient } from "@skiff/client";

/** The image every test pod runs: the busybox fixture each node has imported (no registry is reachable). */
export const BUSYBOX = { image: "docker.io/library/busybox:latest", imagePullPolicy: "IfNotPresent" } as const;

/** Options of {@linkcode webDeployment}. */
export interface WebDeploymentOptions {
  /** The Deployment's name; its pods carry `app=<name>`. */
  name: string;
  /** Number of pods. */
  replicas: number;
  /** A node the pods must not run on. */
  avoidNode?: string;
  /** Leave an unreachable or not-ready node at once instead of after 300 s. */
  evictAtOnce?: boolean;
}

/**
 * A Deployment whose pods serve their name (`hostname`) on port 8080 (busybox
 * httpd, ready once it answers) and echo every line back on port 9000
 * (busybox nc), at most one pod per node.
 */
export function webDeployment(options: WebDeploymentOptions): Deployment {
  const labels = { app: options.name };
  const tolerations: Toleration[] = options.evictAtOnce
    ? ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"].map((key) => ({
      key,
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: 0,
    }))
    : [];
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: options.name, namespace: "default" },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 0,
          ...(tolerations.length > 0 ? { tolerations } : {}),
          affinity: {
            ...(options.avoidNode
              ? {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{
                      matchExpressions: [{
                        key: "kubernetes.io/hostname",
                        operator: "NotIn",
                        values: [options.avoidNode],
                      }],
                    }],
                  },
                },
              }
              : {}),
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{
                labelSelector: { matchLabels: labels },
                topologyKey: "kubernetes.io/hostname",
              }],
            },
          },
          containers: [{
            name: "web",
            ...BUSYBOX,
            command: [
              "sh",
              "-c",
              "mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && exec nc -ll -p 9000 -e cat",
            ],
            ports: [{ containerPort: 8080 }, { containerPort: 9000 }],
            readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 1 },
          }],
        },
      },
    },
  };
}

/**
 * The Running, Ready pods matching `selector` in `default`, sorted by name,
 * when there are exactly `count` of them and none is terminating.
 *
 * @throws {Error} otherwise, describing each pod (for `eventually`).
 */
export async function readyPods(client: ApiClient, selector: string, count: number): Promise<Pod[]> {
  const list = await client.kind<Pod>("v1", "Pod").list({ namespace: "default", labelSelector: selector });
  const live = list.items.filter((pod) => !pod.metadata.deletionTimestamp);
  const ready = live.filter((pod) =>
    pod.status?.phase === "Running" && pod.status.podIP &&
    pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")
  );
  if (ready.length !== count || live.length !== count) {
    const described = list.items.map((pod) => {
      const waiting = pod.status?.containerStatuses?.map((s) => s.state?.waiting?.reason ?? "").filter(Boolean);
      return `${pod.metadata.name} on ${pod.spec?.nodeName ?? "no node"}: ${pod.status?.phase ?? "no phase"}` +
        `${pod.metadata.deletionTimestamp ? ", terminating" : ""}${waiting?.length ? `, ${waiting.join(" ")}` : ""}` +
        `${
          pod.status?.conditions?.map((c) => `, ${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`).join("") ??
            ""
        }`;
    });
    throw new Error(`${ready.length} of ${count} pods ready: ${described.join("; ") || "none"}`);
  }
  return ready.sort((x, y) => (x.metadata.name ?? "").localeCompare(y.metadata.name ?? ""));
}
