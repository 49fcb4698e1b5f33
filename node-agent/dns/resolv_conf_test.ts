import assert from "node:assert/strict";
import { formatResolvConf, parseResolvConf, podResolvConf } from "./resolv_conf.ts";

const HOST =
  "# written by dhcp\nsearch lan home.arpa\nnameserver 192.168.1.1\nnameserver 1.1.1.1 ; backup\noptions edns0 timeout:2\n";
const base = { namespace: "shop", nameserver: "10.42.3.1", hostResolvConf: HOST };

Deno.test("parseResolvConf() reads name servers, the last search line and options, ignoring comments", () => {
  assert.deepEqual(parseResolvConf(HOST), {
    nameservers: ["192.168.1.1", "1.1.1.1"],
    searches: ["lan", "home.arpa"],
    options: ["edns0", "timeout:2"],
  });
  assert.deepEqual(parseResolvConf("domain a\nsearch b c\n\n  nameserver   ::1  \nbogus line\n"), {
    nameservers: ["::1"],
    searches: ["b", "c"],
    options: [],
  });
  assert.deepEqual(parseResolvConf(""), { nameservers: [], searches: [], options: [] });
  assert.equal(formatResolvConf({ nameservers: [], searches: [], options: [] }), "");
});

Deno.test("podResolvConf() with ClusterFirst points at the node's cluster DNS with the namespace's search path", () => {
  assert.equal(
    podResolvConf(base),
    "nameserver 10.42.3.1\n" +
      "search shop.svc.cluster.local svc.cluster.local cluster.local lan home.arpa\n" +
      "options ndots:5\n",
  );
  assert.equal(podResolvConf({ ...base, dnsPolicy: "ClusterFirst" }), podResolvConf(base));
  assert.equal(
    podResolvConf({ ...base, clusterDomain: "home.lab.", hostResolvConf: "" }),
    "nameserver 10.42.3.1\nsearch shop.svc.home.lab svc.home.lab home.lab\noptions ndots:5\n",
  );
});

Deno.test("podResolvConf() with ClusterFirst on the host network uses the node's, unless ClusterFirstWithHostNet", () => {
  assert.equal(podResolvConf({ ...base, hostNetwork: true }), formatResolvConf(parseResolvConf(HOST)));
  assert.match(
    podResolvConf({ ...base, hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }),
    /^nameserver 10\.42\.3\.1\nsearch shop\.svc\.cluster\.local /,
  );
});

Deno.test("podResolvConf() with Default copies the node's configuration", () => {
  assert.equal(
    podResolvConf({ ...base, dnsPolicy: "Default" }),
    "nameserver 192.168.1.1\nnameserver 1.1.1.1\nsearch lan home.arpa\noptions edns0 timeout:2\n",
  );
});

Deno.test("podResolvConf() merges dnsConfig: servers and searches appended once, options replaced by name", () => {
  const text = podResolvConf({
    ...base,
    dnsConfig: {
      nameservers: ["9.9.9.9", "10.42.3.1"],
      searches: ["lan", "extra.local."],
      options: [{ name: "ndots", value: "2" }, { name: "rotate" }, { name: "edns0", value: "" }],
    },
  });
  assert.equal(
    text,
    "nameserver 10.42.3.1\nnameserver 9.9.9.9\n" +
      "search shop.svc.cluster.local svc.cluster.local cluster.local lan home.arpa extra.local\n" +
      "options ndots:2 rotate edns0\n",
  );
});

Deno.test("podResolvConf() with None uses only dnsConfig, and requires it", () => {
  assert.equal(
    podResolvConf({
      ...base,
      dnsPolicy: "None",
      dnsConfig: { nameservers: ["1.1.1.1"], searches: ["my.lan"], options: [{ name: "ndots", value: "1" }] },
    }),
    "nameserver 1.1.1.1\nsearch my.lan\noptions ndots:1\n",
  );
  assert.throws(() => podResolvConf({ ...base, dnsPolicy: "None" }), /Invalid dnsConfig: dnsPolicy "None" needs/);
});

Deno.test("podResolvConf() keeps at most 3 name servers and 32 search domains", () => {
  const text = podResolvConf({
    ...base,
    dnsPolicy: "None",
    dnsConfig: {
      nameservers: ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"],
      searches: Array.from({ length: 40 }, (_, i) => `d${i}.lan`),
    },
  });
  const conf = parseResolvConf(text);
  assert.deepEqual(conf.nameservers, ["1.1.1.1", "1.0.0.1", "8.8.8.8"]);
  assert.equal(conf.searches.length, 32);
  assert.equal(conf.searches.at(-1), "d31.lan");
});

Deno.test("podResolvConf() names the field at fault for bad input", () => {
  assert.throws(() => podResolvConf({ ...base, dnsPolicy: "Sometimes" as "None" }), /Invalid dnsPolicy "Sometimes"/);
  assert.throws(() => podResolvConf({ ...base, nameserver: "dns.local" }), /Invalid nameserver "dns\.local"/);
  assert.throws(() => podResolvConf({ ...base, namespace: "" }), /Invalid namespace/);
  assert.throws(
    () => podResolvConf({ ...base, dnsConfig: { nameservers: ["one.one"] } }),
    /Invalid dnsConfig\.nameservers: "one\.one"/,
  );
});
