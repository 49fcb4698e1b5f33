import assert from "node:assert/strict";
import { parseAddressPool } from "./address_pool.ts";

Deno.test("parseAddressPool() reads ranges, CIDRs and single addresses in order", () => {
  const pool = parseAddressPool("192.168.1.240-192.168.1.242, 10.0.0.8/30\n172.16.0.5");
  assert.equal(pool.size, 6);
  assert.deepEqual([...pool.addresses()], [
    "192.168.1.240",
    "192.168.1.241",
    "192.168.1.242",
    "10.0.0.9",
    "10.0.0.10",
    "172.16.0.5",
  ]);
  assert.equal(pool.text, "192.168.1.240-192.168.1.242, 10.0.0.8/30, 172.16.0.5");
  assert.ok(pool.contains("10.0.0.10"));
  assert.ok(!pool.contains("10.0.0.8"), "a CIDR's network address is left out");
  assert.ok(!pool.contains("192.168.1.243"));
  assert.ok(!pool.contains("not-an-ip"));
});

Deno.test("parseAddressPool() keeps both addresses of a /31 and the one of a /32", () => {
  assert.deepEqual([...parseAddressPool("10.1.0.0/31").addresses()], ["10.1.0.0", "10.1.0.1"]);
  assert.deepEqual([...parseAddressPool("10.1.0.7/32").addresses()], ["10.1.0.7"]);
});

Deno.test("parseAddressPool() of an empty text is an empty pool", () => {
  assert.equal(parseAddressPool("  ").size, 0);
});

Deno.test("parseAddressPool() refuses bad entries, naming the entry and the source", () => {
  assert.throws(
    () => parseAddressPool("192.168.1.250-192.168.1.240", "--lb-pool"),
    /Invalid --lb-pool: "192.168.1.250-192.168.1.240" runs backwards/,
  );
  assert.throws(() => parseAddressPool("192.168.1.300"), /"192.168.1.300" is not an IPv4 address/);
  assert.throws(() => parseAddressPool("10.0.0.0/33"), /"10.0.0.0\/33" is not an IPv4 CIDR/);
  assert.throws(() => parseAddressPool("10.0.0.0/8"), /larger than a \/16/);
  assert.throws(() => parseAddressPool("10.0.0.1-10.0.0.9, 10.0.0.8/30"), /"10.0.0.8\/30" overlaps 10.0.0.1-10.0.0.9/);
  assert.throws(() => parseAddressPool("10.0.0.0/16, 10.1.0.0/16"), /holds 131068 addresses/);
});
