import assert from "node:assert/strict";
import { createTempDir } from "../../test/support/mod.ts";
import { startControlPlane } from "../control_plane.ts";
import { MAX_BODY_BYTES } from "./_body.ts";

Deno.test("the API server answers a request it refuses before reading its body, even a body of hundreds of KiB", async () => {
  await using dir = await createTempDir({ prefix: "skiff-serve-" });
  const plane = await startControlPlane({ dataDir: dir.path, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = Deno.createHttpClient({ caCerts: [plane.pki.caPem] });
  try {
    // Refused unread (no credentials: 401): the client must get the answer, not a connection reset mid-upload.
    for (const size of [1024, 300 * 1024, 600 * 1024, MAX_BODY_BYTES - 1024]) {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${plane.url}/api/v1/namespaces/default/configmaps`, {
          method: "POST",
          client,
          headers: { "content-type": "application/json" },
          body: `{"a":"${"x".repeat(size)}"}`,
        }).catch((error) => {
          throw new Error(`a ${size}-byte body got no answer: ${error}`, { cause: error });
        });
        const status = await res.json();
        assert.equal(res.status, 401, `a ${size}-byte body`);
        assert.equal(status.kind, "Status");
      }
    }
    // A slow client: the body arrives in pieces over about a second.
    const chunk = new TextEncoder().encode("x".repeat(30 * 1024));
    for (let i = 0; i < 3; i++) {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent++ === 20) return controller.close();
          await new Promise((resolve) => setTimeout(resolve, 50));
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${plane.url}/api/v1/namespaces/default/configmaps`, {
        method: "POST",
        client,
        headers: { "content-type": "application/json" },
        body,
      }).catch((error) => {
        throw new Error(`a slowly sent body got no answer: ${error}`, { cause: error });
      });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).kind, "Status");
    }
  } finally {
    client.close();
    await plane.stop();
  }
});
