import assert from "node:assert/strict";
import {
  formatImageReference,
  imageName,
  imageReferenceErrors,
  normalizeImageReference,
  parseImageReference,
} from "./image.ts";

const DIGEST = "sha256:" + "a".repeat(64);

Deno.test("normalizeImageReference() fills registry, library/ and latest as Docker does", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["nginx:1.25", "docker.io/library/nginx:1.25"],
    ["library/nginx", "docker.io/library/nginx:latest"],
    ["bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"],
    ["index.docker.io/library/alpine", "docker.io/library/alpine:latest"],
    ["ghcr.io/a/b@" + DIGEST, "ghcr.io/a/b@" + DIGEST],
    ["nginx:1.25@" + DIGEST, "docker.io/library/nginx:1.25@" + DIGEST],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/x", "localhost:5000/x:latest"],
    ["registry.lan:5000/team/app:v2", "registry.lan:5000/team/app:v2"],
    ["[::1]:5000/app:v1", "[::1]:5000/app:v1"],
    ["quay.io/prometheus/node-exporter:v1.7.0", "quay.io/prometheus/node-exporter:v1.7.0"],
    ["a__b/c-d.e", "docker.io/a__b/c-d.e:latest"],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeImageReference(input), expected, input);
});

Deno.test("parseImageReference() splits registry, repository, tag and digest", () => {
  assert.deepEqual(parseImageReference("busybox"), {
    registry: "docker.io",
    repository: "library/busybox",
    tag: "latest",
  });
  assert.deepEqual(parseImageReference("localhost:5000/team/app:v2@" + DIGEST), {
    registry: "localhost:5000",
    repository: "team/app",
    tag: "v2",
    digest: DIGEST,
  });
  assert.deepEqual(parseImageReference("ghcr.io/a/b@" + DIGEST), {
    registry: "ghcr.io",
    repository: "a/b",
    digest: DIGEST,
  });
  assert.equal(imageName("nginx:1.25"), "docker.io/library/nginx");
  assert.equal(formatImageReference({ registry: "r.io", repository: "x" }), "r.io/x");
});

Deno.test("parseImageReference() rejects bad references with distribution's reasons", () => {
  const cases: [string, RegExp][] = [
    ["", /repository name must have at least one component/],
    ["Nginx", /repository name \(library\/Nginx\) must be lowercase/],
    ["nginx:", /invalid reference format/],
    ["nginx:bad tag", /invalid reference format/],
    ["-nginx", /invalid reference format/],
    ["nginx@sha256:abc", /invalid reference format/],
    ["nginx@sha256:" + "A".repeat(64), /invalid checksum digest format/],
    ["nginx@md5:" + "a".repeat(32), /unsupported digest algorithm/],
    ["nginx@sha256:" + "a".repeat(63) + "aa", /invalid checksum digest length/],
    ["a".repeat(64), /cannot specify 64-byte hexadecimal strings/],
    ["x/" + "a".repeat(260), /must not be more than 255 characters/],
    ["nginx:" + "t".repeat(129), /invalid reference format/],
    ["a".repeat(600), /invalid reference format/],
  ];
  for (const [input, reason] of cases) {
    assert.throws(
      () => parseImageReference(input),
      (e: unknown) =>
        e instanceof TypeError && reason.test(e.message) && e.message.startsWith("Invalid image reference"),
      input,
    );
  }
  assert.throws(() => parseImageReference(7 as unknown as string), TypeError);
});

Deno.test("imageReferenceErrors() never throws", () => {
  assert.deepEqual(imageReferenceErrors("busybox:1.36"), []);
  assert.deepEqual(imageReferenceErrors(null), ["must be a string"]);
  assert.deepEqual(imageReferenceErrors("UPPER/case"), []);
  assert.equal(imageReferenceErrors("a b").length, 1);
});
