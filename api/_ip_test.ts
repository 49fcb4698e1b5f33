import assert from "node:assert/strict";
import { isCIDR, isIP, isIPv4, isIPv6, specialIPError } from "./_ip.ts";

Deno.test("isIPv4() accepts dotted quads without leading zeros", () => {
  for (const ok of ["0.0.0.0", "10.42.3.7", "255.255.255.255"]) assert.ok(isIPv4(ok), ok);
  for (const bad of ["256.0.0.1", "10.42.3", "10.042.3.7", "1.2.3.4.5", "a.b.c.d", "", " 1.2.3.4"]) {
    assert.ok(!isIPv4(bad), bad);
  }
});

Deno.test("isIPv6() accepts full, compressed and IPv4-mapped forms", () => {
  for (const ok of ["::", "::1", "2001:db8::ffff", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8", "::ffff:10.0.0.1"]) {
    assert.ok(isIPv6(ok), ok);
  }
  for (
    const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::g", "fe80::1%eth0", "1:2:3:4:5:6:7", "::ffff:10.0.0"]
  ) {
    assert.ok(!isIPv6(bad), bad);
  }
  assert.ok(isIP("10.0.0.1") && isIP("::1") && !isIP("x"));
});

Deno.test("isCIDR() checks the prefix length per family", () => {
  assert.ok(isCIDR("10.42.0.0/16") && isCIDR("2001:db8::/64") && isCIDR("0.0.0.0/0"));
  assert.ok(!isCIDR("10.42.0.0/33") && !isCIDR("10.42.0.0") && !isCIDR("::/129") && !isCIDR("10.0.0.0/08"));
});

Deno.test("specialIPError() names loopback, link-local and unspecified addresses", () => {
  assert.match(specialIPError("127.0.0.1") ?? "", /loopback/);
  assert.match(specialIPError("169.254.1.1") ?? "", /link-local range/);
  assert.match(specialIPError("224.0.0.5") ?? "", /multicast/);
  assert.match(specialIPError("0.0.0.0") ?? "", /unspecified/);
  assert.equal(specialIPError("10.42.0.5"), undefined);
});
