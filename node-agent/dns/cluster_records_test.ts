import assert from "node:assert/strict";
import { type EndpointSlice, LABEL_SERVICE_NAME, type Service } from "@skiff/api";
import { type Answer, RCODE } from "./_packet.ts";
import { CLUSTER_RECORD_TTL, ClusterRecords } from "./cluster_records.ts";

function service(namespace: string, name: string, spec: NonNullable<Service["spec"]>): Service {
  return { apiVersion: "v1", kind: "Service", metadata: { namespace, name }, spec };
}

function slice(
  namespace: string,
  svc: string,
  name: string,
  endpoints: EndpointSlice["endpoints"],
  ports: EndpointSlice["ports"] = [],
): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace, name, labels: { [LABEL_SERVICE_NAME]: svc } },
    addressType: "IPv4",
    endpoints,
    ports,
  };
}

const SERVICES: Service[] = [
  service("shop", "web", {
    clusterIP: "10.43.0.12",
    ports: [{ name: "http", port: 80, protocol: "TCP" }, { name: "dns", port: 53, protocol: "UDP" }],
  }),
  service("shop", "db", { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] }),
  service("shop", "plain", { clusterIP: "None" }),
  service("shop", "nas", { type: "ExternalName", externalName: "nas.lan." }),
  service("shop", "alias", { type: "ExternalName", externalName: "web.shop.svc.cluster.local" }),
];

const SLICES: EndpointSlice[] = [
  slice("shop", "db", "db-abc", [
    { addresses: ["10.42.1.5"], hostname: "db-0", conditions: { ready: true } },
    { addresses: ["10.42.2.6"], hostname: "db-1", conditions: { ready: true } },
    { addresses: ["10.42.3.7"], hostname: "db-2", conditions: { ready: false, terminating: true } },
  ], [{ name: "pg", port: 5432, protocol: "TCP" }]),
  slice("shop", "plain", "plain-xyz", [{ addresses: ["10.42.1.9"] }]),
  slice("shop", "web", "web-123", [{ addresses: ["10.42.1.20"], conditions: { ready: true } }], [
    { name: "http", port: 8080, protocol: "TCP" },
  ]),
];

const records = () => ClusterRecords.from(SERVICES, SLICES, { nameserver: "10.42.3.1" });
const data = (answers: Answer[] | undefined) => answers?.map((a) => "data" in a ? a.data : undefined);

Deno.test("ClusterRecords.resolve() answers a Service name with its ClusterIP, in any case, with a 5 s TTL", () => {
  const answer = records().resolve("Web.Shop.svc.cluster.local.", "A");
  assert.equal(answer?.rcode, RCODE.NOERROR);
  assert.deepEqual(answer?.answers, [
    { type: "A", name: "Web.Shop.svc.cluster.local", ttl: CLUSTER_RECORD_TTL, data: "10.43.0.12" },
  ]);
  assert.deepEqual(answer?.authorities, []);
});

Deno.test("ClusterRecords.resolve() answers a headless Service with its ready endpoints only", () => {
  assert.deepEqual(data(records().resolve("db.shop.svc.cluster.local", "A")?.answers), ["10.42.1.5", "10.42.2.6"]);
  assert.deepEqual(data(records().resolve("plain.shop.svc.cluster.local", "A")?.answers), ["10.42.1.9"]);
});

Deno.test("ClusterRecords.resolve() answers endpoint hostnames and dashed addresses under a headless Service", () => {
  const r = records();
  assert.deepEqual(data(r.resolve("db-1.db.shop.svc.cluster.local", "A")?.answers), ["10.42.2.6"]);
  assert.deepEqual(data(r.resolve("10-42-1-9.plain.shop.svc.cluster.local", "A")?.answers), ["10.42.1.9"]);
  assert.equal(r.resolve("db-2.db.shop.svc.cluster.local", "A")?.rcode, RCODE.NXDOMAIN, "not ready");
  assert.equal(r.resolve("10-42-1-20.web.shop.svc.cluster.local", "A")?.rcode, RCODE.NXDOMAIN, "not headless");
});

Deno.test("ClusterRecords.resolve() answers SRV for a ClusterIP Service's named port with its address as additional", () => {
  const answer = records().resolve("_http._tcp.web.shop.svc.cluster.local", "SRV");
  assert.deepEqual(data(answer?.answers), [
    { priority: 0, weight: 100, port: 80, target: "web.shop.svc.cluster.local" },
  ]);
  assert.deepEqual(answer?.additionals, [
    { type: "A", name: "web.shop.svc.cluster.local", ttl: CLUSTER_RECORD_TTL, data: "10.43.0.12" },
  ]);
  assert.deepEqual(
    data(records().resolve("_dns._udp.web.shop.svc.cluster.local", "SRV")?.answers),
    [{ priority: 0, weight: 100, port: 53, target: "web.shop.svc.cluster.local" }],
  );
  const all = records().resolve("web.shop.svc.cluster.local", "SRV");
  assert.deepEqual(data(all?.answers)?.map((d) => (d as { port: number }).port), [80, 53]);
});

Deno.test("ClusterRecords.resolve() answers SRV for a headless Service with one record per ready endpoint", () => {
  const answer = records().resolve("_pg._tcp.db.shop.svc.cluster.local", "SRV");
  assert.deepEqual(data(answer?.answers), [
    { priority: 0, weight: 50, port: 5432, target: "db-0.db.shop.svc.cluster.local" },
    { priority: 0, weight: 50, port: 5432, target: "db-1.db.shop.svc.cluster.local" },
  ]);
  assert.deepEqual(answer?.additionals?.map((a) => [a.name, a.type, "data" in a ? a.data : undefined]), [
    ["db-0.db.shop.svc.cluster.local", "A", "10.42.1.5"],
    ["db-1.db.shop.svc.cluster.local", "A", "10.42.2.6"],
  ]);
});

Deno.test("ClusterRecords.resolve() gives NXDOMAIN for unknown port names and NODATA for a protocol level that exists", () => {
  const r = records();
  assert.equal(r.resolve("_nope._tcp.web.shop.svc.cluster.local", "SRV")?.rcode, RCODE.NXDOMAIN);
  assert.equal(r.resolve("_http._udp.web.shop.svc.cluster.local", "SRV")?.rcode, RCODE.NXDOMAIN);
  const level = r.resolve("_tcp.web.shop.svc.cluster.local", "SRV");
  assert.equal(level?.rcode, RCODE.NOERROR);
  assert.deepEqual(level?.answers, []);
  assert.equal(r.resolve("_sctp.web.shop.svc.cluster.local", "SRV")?.rcode, RCODE.NXDOMAIN);
});

Deno.test("ClusterRecords.resolve() answers pod names from their dashed address and refuses malformed ones", () => {
  const r = records();
  assert.deepEqual(data(r.resolve("10-42-0-5.shop.pod.cluster.local", "A")?.answers), ["10.42.0.5"]);
  for (const bad of ["10-42-0-256", "10-42-0", "010-42-0-5", "a-b-c-d", "10-42-0-5-6"]) {
    assert.equal(r.resolve(`${bad}.shop.pod.cluster.local`, "A")?.rcode, RCODE.NXDOMAIN, bad);
  }
  assert.equal(r.resolve("x.10-42-0-5.shop.pod.cluster.local", "A")?.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(r.resolve("shop.pod.cluster.local", "A")?.answers, []);
});

Deno.test("ClusterRecords.resolve() answers an ExternalName Service with a CNAME and the alias to follow", () => {
  const answer = records().resolve("nas.shop.svc.cluster.local", "A");
  assert.equal(answer?.rcode, RCODE.NOERROR);
  assert.deepEqual(answer?.answers, [
    { type: "CNAME", name: "nas.shop.svc.cluster.local", ttl: CLUSTER_RECORD_TTL, data: "nas.lan" },
  ]);
  assert.equal(answer?.alias, "nas.lan");
  assert.equal(records().resolve("alias.shop.svc.cluster.local", "AAAA")?.alias, "web.shop.svc.cluster.local");
});

Deno.test("ClusterRecords.resolve() gives NXDOMAIN with the SOA for names in the zone that do not exist", () => {
  const r = records();
  for (
    const name of [
      "nope.shop.svc.cluster.local",
      "web.other.svc.cluster.local",
      "other.svc.cluster.local",
      "x.web.shop.svc.cluster.local",
      "a.b.c.d.e.f.web.shop.svc.cluster.local",
      "foo.cluster.local",
    ]
  ) {
    const answer = r.resolve(name, "A");
    assert.equal(answer?.rcode, RCODE.NXDOMAIN, name);
    assert.deepEqual(answer?.answers, []);
    assert.equal(answer?.authorities[0]?.type, "SOA", name);
  }
});

Deno.test("ClusterRecords.resolve() gives no data with the SOA for existing names asked for other types", () => {
  const r = records();
  for (
    const [name, type] of [
      ["web.shop.svc.cluster.local", "AAAA"],
      ["web.shop.svc.cluster.local", "MX"],
      ["db.shop.svc.cluster.local", "TXT"],
      ["shop.svc.cluster.local", "A"],
      ["svc.cluster.local", "A"],
      ["cluster.local", "A"],
    ] as const
  ) {
    const answer = r.resolve(name, type);
    assert.equal(answer?.rcode, RCODE.NOERROR, `${name} ${type}`);
    assert.deepEqual(answer?.answers, []);
    assert.deepEqual(answer?.authorities.map((a) => a.type), ["SOA"]);
  }
  assert.deepEqual(r.resolve("cluster.local", "SOA")?.answers.map((a) => a.type), ["SOA"]);
  assert.deepEqual(data(r.resolve("cluster.local", "NS")?.answers), ["ns.dns.cluster.local"]);
  assert.deepEqual(data(r.resolve("ns.dns.cluster.local", "A")?.answers), ["10.42.3.1"]);
});

Deno.test("ClusterRecords.resolve() leaves names outside the zone and unknown reverse names to the forwarder", () => {
  const r = records();
  assert.equal(r.resolve("example.com", "A"), undefined);
  assert.equal(r.resolve("notcluster.local", "A"), undefined);
  assert.equal(r.resolve("1.1.168.192.in-addr.arpa", "PTR"), undefined);
  assert.deepEqual(data(r.resolve("12.0.43.10.in-addr.arpa", "PTR")?.answers), ["web.shop.svc.cluster.local"]);
  assert.deepEqual(data(r.resolve("6.2.42.10.in-addr.arpa", "PTR")?.answers), ["db-1.db.shop.svc.cluster.local"]);
});

Deno.test("ClusterRecords follows Service and EndpointSlice changes and bumps the SOA serial", () => {
  const r = records();
  const before = r.serial;
  const dbSlice = SLICES[0]!;
  r.setSlice({ ...dbSlice, endpoints: [{ addresses: ["10.42.9.9"], hostname: "db-0" }] });
  assert.deepEqual(data(r.resolve("db.shop.svc.cluster.local", "A")?.answers), ["10.42.9.9"]);
  assert.ok(r.serial > before);
  r.setSlice({ ...dbSlice, metadata: { ...dbSlice.metadata, labels: { [LABEL_SERVICE_NAME]: "plain" } } });
  assert.deepEqual(r.resolve("db.shop.svc.cluster.local", "A")?.answers, []);
  assert.deepEqual(data(r.resolve("plain.shop.svc.cluster.local", "A")?.answers), [
    "10.42.1.9",
    "10.42.1.5",
    "10.42.2.6",
  ], "ordered by name: 10-42-1-9, db-0, db-1");
  r.deleteSlice(dbSlice);
  assert.deepEqual(data(r.resolve("plain.shop.svc.cluster.local", "A")?.answers), ["10.42.1.9"]);
  r.deleteService(SERVICES[0]!);
  assert.equal(r.resolve("web.shop.svc.cluster.local", "A")?.rcode, RCODE.NXDOMAIN);
  for (const svc of SERVICES.slice(1)) r.deleteService(svc);
  assert.equal(r.resolve("shop.svc.cluster.local", "A")?.rcode, RCODE.NXDOMAIN, "no Service left in the namespace");
});

Deno.test("ClusterRecords honours a custom cluster domain and refuses an invalid one", () => {
  const r = ClusterRecords.from(SERVICES, [], { clusterDomain: "Home.Lab." });
  assert.equal(r.domain, "home.lab");
  assert.deepEqual(data(r.resolve("web.shop.svc.home.lab", "A")?.answers), ["10.43.0.12"]);
  assert.equal(r.resolve("web.shop.svc.cluster.local", "A"), undefined);
  assert.throws(() => new ClusterRecords({ clusterDomain: "bad domain" }), /Invalid option "clusterDomain"/);
});
