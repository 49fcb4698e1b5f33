import assert from "node:assert/strict";
import { nginxDeployment, webStatefulSet } from "./_test_manifests.ts";
import { resolveResource } from "./registry.ts";
import type { DaemonSet, Deployment, Scale, StatefulSet } from "./types_apps.ts";

Deno.test("Deployment types hold the nginx Deployment and its served status", () => {
  const d: Deployment = {
    ...nginxDeployment(),
    status: {
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable" }],
    },
  };
  const type = resolveResource("deployments.apps");
  type.defaults(d);
  assert.deepEqual(type.validate(d), []);
  assert.equal(d.spec?.strategy?.rollingUpdate?.maxSurge, "25%");
  assert.equal(d.spec?.template.spec?.containers[0]?.imagePullPolicy, "IfNotPresent");
});

Deno.test("StatefulSet types hold volumeClaimTemplates", () => {
  const sts: StatefulSet = webStatefulSet();
  const type = resolveResource("sts");
  type.defaults(sts);
  assert.deepEqual(type.validate(sts), []);
  assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, "1Gi");
  assert.equal(sts.spec?.updateStrategy?.rollingUpdate?.partition, 0);
});

Deno.test("DaemonSet and Scale types read served JSON", () => {
  const ds: DaemonSet = JSON.parse(
    `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"kube-system"},
      "spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},
      "spec":{"hostNetwork":true,"containers":[{"name":"agent","image":"busybox","ports":[{"containerPort":9100}]}]}},
      "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}},
      "status":{"currentNumberScheduled":3,"numberMisscheduled":0,"desiredNumberScheduled":3,"numberReady":3}}`,
  );
  const type = resolveResource("ds");
  type.defaults(ds);
  assert.deepEqual(type.validate(ds), []);
  assert.equal(ds.spec?.template.spec?.containers[0]?.ports?.[0]?.hostPort, 9100);
  const scale: Scale = {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: { name: "web" },
    spec: { replicas: 5 },
    status: { replicas: 3, selector: "app=web" },
  };
  assert.equal(scale.status?.selector, "app=web");
});
