import assert from "node:assert/strict";
import {
  checkCredentials,
  CredentialsError,
  credentialsPath,
  loadCredentials,
  mergeCredentials,
  saveCredentials,
} from "./credentials.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const STORED = { server: "https://192.168.1.10:6443", token: "abc123.secretsecretsecret", caPem: CA, nodeName: "pi-3" };

Deno.test("saveCredentials() writes a 0600 file that loadCredentials() reads back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await loadCredentials(dir), undefined);
    await saveCredentials(dir, STORED);
    const info = await Deno.stat(credentialsPath(dir));
    assert.equal((info.mode ?? 0) & 0o777, 0o600);
    assert.deepEqual(await loadCredentials(dir), STORED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCredentials() of a damaged file fails naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveCredentials(dir, STORED);
    const path = credentialsPath(dir);
    await Deno.writeTextFile(
      path,
      JSON.stringify({ kind: "NodeCredentials", server: STORED.server, nodeName: "pi-3" }),
    );
    await assert.rejects(loadCredentials(dir), (error: Error) => {
      assert.ok(error instanceof CredentialsError);
      assert.match(error.message, /"token" is missing/);
      assert.ok(error.message.includes(path));
      return true;
    });
    await Deno.writeTextFile(path, "{");
    await assert.rejects(loadCredentials(dir), /not JSON.*--server and --token/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mergeCredentials() lets each flag override the stored value and keeps the rest", () => {
  const options = { defaultNodeName: "host", path: "/x/credentials.json" };
  assert.deepEqual(mergeCredentials(STORED, {}, options), STORED);
  assert.deepEqual(mergeCredentials(STORED, { token: "zzz999.othersecret" }, options), {
    ...STORED,
    token: "zzz999.othersecret",
  });
  assert.deepEqual(
    mergeCredentials(STORED, { server: "https://10.0.0.1:6443" }, options),
    { server: "https://10.0.0.1:6443", token: STORED.token, nodeName: "pi-3" },
    "a CA stored for another server is not trusted for a new one",
  );
  assert.equal(mergeCredentials(undefined, { server: STORED.server, token: STORED.token }, options).nodeName, "host");
  assert.throws(
    () => mergeCredentials(undefined, { token: STORED.token }, options),
    /No node credentials in "\/x\/credentials.json": pass --server URL the first time/,
  );
});

Deno.test("checkCredentials() names the field at fault", () => {
  assert.throws(
    () => checkCredentials({ ...STORED, server: "http://x:6443" }),
    /Invalid server "http:\/\/x:6443": .*HTTPS/,
  );
  assert.throws(() => checkCredentials({ ...STORED, server: "nonsense" }), /Invalid server "nonsense": not a URL/);
  assert.throws(() => checkCredentials({ ...STORED, token: "no-dot" }), /Invalid token/);
  assert.throws(() => checkCredentials({ ...STORED, caPem: "hello" }), /Invalid CA certificate/);
});
