import assert from "node:assert/strict";
import {
  annotationsSize,
  configMapKeyErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  envVarNameErrors,
  generateName,
  labelValueErrors,
  NAME_SUFFIX_ALPHABET,
  nameSuffix,
  portNameErrors,
  portNumberErrors,
  qualifiedNameErrors,
  utf8Length,
} from "./names.ts";

Deno.test("dns1123SubdomainErrors() uses Kubernetes' message", () => {
  assert.deepEqual(dns1123SubdomainErrors("my.app-1"), []);
  assert.deepEqual(dns1123SubdomainErrors("My_App"), [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
  assert.deepEqual(dns1123SubdomainErrors("a".repeat(254))[0], "must be no more than 253 characters");
  assert.equal(dns1123SubdomainErrors("").length, 1);
});

Deno.test("dns1123LabelErrors() limits to 63 characters and says when dots are the problem", () => {
  assert.deepEqual(dns1123LabelErrors("web-1"), []);
  assert.deepEqual(dns1123LabelErrors("a".repeat(64)), ["must be no more than 63 characters"]);
  assert.deepEqual(dns1123LabelErrors("a.b"), ["must not contain dots"]);
  assert.deepEqual(dns1123LabelErrors("-a"), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
});

Deno.test("dns1035LabelErrors() requires a leading letter (Service names)", () => {
  assert.deepEqual(dns1035LabelErrors("web"), []);
  assert.equal(dns1035LabelErrors("1web").length, 1);
  assert.match(dns1035LabelErrors("1web")[0] as string, /^a DNS-1035 label must consist/);
});

Deno.test("qualifiedNameErrors() checks the prefix and the name part", () => {
  assert.deepEqual(qualifiedNameErrors("app.kubernetes.io/name"), []);
  assert.deepEqual(qualifiedNameErrors("Name_1.x"), []);
  assert.deepEqual(qualifiedNameErrors("/name"), ["prefix part must be non-empty"]);
  assert.deepEqual(qualifiedNameErrors("Example.com/x")[0]?.startsWith("prefix part a lowercase RFC 1123"), true);
  assert.deepEqual(qualifiedNameErrors("a/b/c").length, 1);
  assert.match(qualifiedNameErrors("a/b/c")[0] as string, /^a qualified name must consist/);
  assert.deepEqual(qualifiedNameErrors("x/" + "a".repeat(64)), ["name part must be no more than 63 characters"]);
  assert.ok(qualifiedNameErrors("a b")[0]?.includes("(e.g. 'MyName',  or 'my.name',  or '123-abc'"));
  assert.ok(qualifiedNameErrors("").includes("name part must be non-empty"));
});

Deno.test("labelValueErrors() allows empty values and 63 characters", () => {
  assert.deepEqual(labelValueErrors(""), []);
  assert.deepEqual(labelValueErrors("v1.2_beta-3"), []);
  assert.deepEqual(labelValueErrors("a".repeat(64))[0], "must be no more than 63 characters");
  assert.match(labelValueErrors("-x")[0] as string, /^a valid label must be an empty string/);
});

Deno.test("envVarNameErrors() and configMapKeyErrors() follow Kubernetes", () => {
  assert.deepEqual(envVarNameErrors("MY_VAR.1"), []);
  assert.equal(envVarNameErrors("1VAR").length, 1);
  assert.deepEqual(envVarNameErrors(".."), ["must not be '..'"]);
  assert.deepEqual(configMapKeyErrors("app.properties"), []);
  assert.deepEqual(configMapKeyErrors("..data"), ["must not start with '..'"]);
  assert.match(configMapKeyErrors("a/b")[0] as string, /^a valid config key/);
});

Deno.test("portNameErrors() and portNumberErrors() check IANA names and 1-65535", () => {
  assert.deepEqual(portNameErrors("http"), []);
  assert.deepEqual(portNameErrors("80"), ["must contain at least one letter (a-z)"]);
  assert.ok(portNameErrors("a--b").includes("must not contain consecutive hyphens"));
  assert.ok(portNameErrors("way-too-long-port-name").includes("must be no more than 15 characters"));
  assert.deepEqual(portNumberErrors(65535), []);
  assert.deepEqual(portNumberErrors(0), ["must be between 1 and 65535, inclusive"]);
});

Deno.test("annotationsSize() counts UTF-8 bytes of keys and values", () => {
  assert.equal(utf8Length("é"), 2);
  assert.equal(utf8Length("😀"), 4);
  assert.equal(annotationsSize({ a: "bc", "é": "€" }), 3 + 2 + 3);
});

Deno.test("nameSuffix() draws 5 characters from Kubernetes' alphabet", () => {
  const suffix = nameSuffix();
  assert.equal(suffix.length, 5);
  for (const ch of suffix) assert.ok(NAME_SUFFIX_ALPHABET.includes(ch));
  assert.equal(nameSuffix(() => 0), "bbbbb");
  assert.equal(nameSuffix(() => 0.9999999), "99999");
});

Deno.test("generateName() cuts the prefix to 58 characters", () => {
  assert.match(generateName("web-"), /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(generateName("x".repeat(80)).length, 63);
  assert.deepEqual(dns1123SubdomainErrors(generateName("nginx-6d4cf56db6-")), []);
});
