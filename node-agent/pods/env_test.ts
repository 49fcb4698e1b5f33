import assert from "node:assert/strict";
import type { ConfigMap, Container, Pod, Secret, Service, ServicePort } from "@skiff/api";
import { ContainerConfigError, containerEnv, type EnvSources, serviceEnv } from "./env.ts";

const b64 = (s: string) => btoa(s);

const configMaps: Record<string, ConfigMap> = {
  app: { metadata: { name: "app" }, data: { LOG_LEVEL: "debug", "bad=key": "x", PORT: "8080" } },
};
const secrets: Record<string, Secret> = {
  db: { metadata: { name: "db" }, data: { password: b64("s3cret"), user: b64("admin") } },
};
const sources: EnvSources = {
  configMap: (name) => Promise.resolve(configMaps[name]),
  secret: (name) => Promise.resolve(secrets[name]),
  allocatable: () => Promise.resolve({ cpu: "4", memory: "8Gi" }),
};

function pod(container: Container): Pod {
  return {
    metadata: { name: "web-0", namespace: "shop", uid: "u-1", labels: { app: "web" } },
    spec: { nodeName: "pi-3", containers: [container] },
  };
}

const addresses = { podIPs: ["10.42.0.7"], hostIPs: ["192.168.1.10"] };

async function envOf(container: Container, services?: Map<string, string>) {
  const result = await containerEnv(pod(container), container, {
    ...addresses,
    sources,
    ...(services ? { services } : {}),
  });
  return { ...result, map: Object.fromEntries(result.env.map((e) => [e.name, e.value])) };
}

Deno.test("containerEnv() takes envFrom first, then env in order with $(VAR) expansion", async () => {
  const { env, invalidNames } = await envOf({
    name: "app",
    envFrom: [{ configMapRef: { name: "app" } }, { secretRef: { name: "db" }, prefix: "DB_" }],
    env: [
      { name: "URL", value: "http://$(HOST):$(PORT)/$(UNDEFINED)" },
      { name: "HOST", value: "localhost" },
      { name: "URL2", value: "http://$(HOST):$(PORT)" },
      { name: "PORT", value: "9090" },
      { name: "EMPTY" },
    ],
  });
  assert.deepEqual(env, [
    { name: "LOG_LEVEL", value: "debug" },
    { name: "PORT", value: "9090" },
    { name: "DB_password", value: "s3cret" },
    { name: "DB_user", value: "admin" },
    { name: "URL", value: "http://$(HOST):8080/$(UNDEFINED)" },
    { name: "HOST", value: "localhost" },
    { name: "URL2", value: "http://localhost:8080" },
    { name: "EMPTY", value: "" },
  ]);
  assert.deepEqual(invalidNames, ["bad=key"]);
});

Deno.test("containerEnv() resolves configMapKeyRef, secretKeyRef, fieldRef and resourceFieldRef", async () => {
  const { map } = await envOf({
    name: "app",
    resources: { limits: { memory: "256Mi" } },
    env: [
      { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "app", key: "LOG_LEVEL" } } },
      { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: "MEM_MI", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
      { name: "CPUS", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
      { name: "OPT", valueFrom: { configMapKeyRef: { name: "none", key: "x", optional: true } } },
      { name: "OPT2", valueFrom: { secretKeyRef: { name: "db", key: "nope", optional: true } } },
    ],
  });
  assert.deepEqual(map, {
    LEVEL: "debug",
    PASSWORD: "s3cret",
    POD_NAME: "web-0",
    POD_IP: "10.42.0.7",
    NODE: "pi-3",
    APP: "web",
    MEM_MI: "256",
    CPUS: "4",
  });
});

Deno.test("containerEnv() fails with ContainerConfigError naming the missing object or key", async () => {
  await assert.rejects(
    envOf({ name: "app", env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "gone", key: "k" } } }] }),
    (error: Error) => error instanceof ContainerConfigError && error.message === 'configmap "gone" not found',
  );
  await assert.rejects(
    envOf({ name: "app", env: [{ name: "X", valueFrom: { secretKeyRef: { name: "db", key: "token" } } }] }),
    /^ContainerConfigError: couldn't find key token in Secret shop\/db$/,
  );
  await assert.rejects(envOf({ name: "app", envFrom: [{ secretRef: { name: "nope" } }] }), /secret "nope" not found/);
  await assert.rejects(
    envOf({ name: "app", env: [{ name: "X", valueFrom: { fieldRef: { fieldPath: "spec.volumes" } } }] }),
    /env var "X": Unsupported fieldRef "spec\.volumes"/,
  );
  const optional = await envOf({ name: "app", envFrom: [{ configMapRef: { name: "nope", optional: true } }] });
  assert.deepEqual(optional.env, []);
});

Deno.test("serviceEnv() gives Docker-link variables for the namespace's Services and the kubernetes Service", () => {
  const svc = (namespace: string, name: string, clusterIP: string, ports: ServicePort[]): Service => ({
    metadata: { namespace, name },
    spec: { clusterIP, ports },
  });
  const services = [
    svc("shop", "redis-primary", "10.43.0.20", [{ port: 6379 }, { name: "metrics", port: 9121, protocol: "TCP" }]),
    svc("shop", "headless", "None", [{ port: 80 }]),
    svc("other", "elsewhere", "10.43.0.30", [{ port: 80 }]),
    svc("default", "kubernetes", "10.43.0.1", [{ name: "https", port: 443 }]),
  ];
  const env = serviceEnv(services, { namespace: "shop", enableServiceLinks: true });
  assert.deepEqual(Object.fromEntries(env), {
    KUBERNETES_SERVICE_HOST: "10.43.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    KUBERNETES_SERVICE_PORT_HTTPS: "443",
    KUBERNETES_PORT: "tcp://10.43.0.1:443",
    KUBERNETES_PORT_443_TCP: "tcp://10.43.0.1:443",
    KUBERNETES_PORT_443_TCP_PROTO: "tcp",
    KUBERNETES_PORT_443_TCP_PORT: "443",
    KUBERNETES_PORT_443_TCP_ADDR: "10.43.0.1",
    REDIS_PRIMARY_SERVICE_HOST: "10.43.0.20",
    REDIS_PRIMARY_SERVICE_PORT: "6379",
    REDIS_PRIMARY_SERVICE_PORT_METRICS: "9121",
    REDIS_PRIMARY_PORT: "tcp://10.43.0.20:6379",
    REDIS_PRIMARY_PORT_6379_TCP: "tcp://10.43.0.20:6379",
    REDIS_PRIMARY_PORT_6379_TCP_PROTO: "tcp",
    REDIS_PRIMARY_PORT_6379_TCP_PORT: "6379",
    REDIS_PRIMARY_PORT_6379_TCP_ADDR: "10.43.0.20",
    REDIS_PRIMARY_PORT_9121_TCP: "tcp://10.43.0.20:9121",
    REDIS_PRIMARY_PORT_9121_TCP_PROTO: "tcp",
    REDIS_PRIMARY_PORT_9121_TCP_PORT: "9121",
    REDIS_PRIMARY_PORT_9121_TCP_ADDR: "10.43.0.20",
  });
  const linksOff = serviceEnv(services, { namespace: "shop", enableServiceLinks: false });
  assert.deepEqual([...linksOff.keys()].every((k) => k.startsWith("KUBERNETES_")), true);
});

Deno.test("containerEnv() adds Service variables after the container's own, which win", async () => {
  const services = new Map([["WEB_SERVICE_HOST", "10.43.0.5"], ["PORT", "1"]]);
  const { env } = await envOf({
    name: "app",
    env: [{ name: "PORT", value: "80" }, { name: "X", value: "$(WEB_SERVICE_HOST)" }],
  }, services);
  assert.deepEqual(env, [
    { name: "PORT", value: "80" },
    { name: "X", value: "10.43.0.5" },
    { name: "WEB_SERVICE_HOST", value: "10.43.0.5" },
  ]);
});
