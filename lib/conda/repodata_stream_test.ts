import assert from "node:assert/strict";
import { parseRepodataStream, type RepodataSection } from "./repodata_stream.ts";

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(text: string, size: number) {
  const recs: [RepodataSection, string, unknown][] = [];
  let info: unknown;
  await parseRepodataStream(pieces(new TextEncoder().encode(text), size), {
    record: (s, fn, json) => void recs.push([s, fn, JSON.parse(json)]),
    info: (i) => info = i,
  });
  return { recs, info };
}

const doc = {
  info: { subdir: "linux-64", base_url: 'https://x/{}"/' },
  repodata_version: 2,
  removed: ["a", "b}"],
  signatures: null,
  packages: {
    "a-1.0-0.tar.bz2": { name: "a", version: "1.0", build: "0", depends: ["b {x}", 'q "\\"'] },
  },
  "packages.conda": {
    "b-2.0-0.conda": { name: "b", version: "2.0", build: "0", nested: { k: [1, { z: "}]" }] } },
    "é-1-0.conda": { name: "é", version: "1", build: "0", note: "\\\\" },
  },
  trailing: true,
};

Deno.test("parseRepodataStream finds every record and info, at any chunk boundary", async () => {
  for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) {
    const want = [
      ...Object.entries(doc.packages).map(([fn, r]) => ["packages", fn, r]),
      ...Object.entries(doc["packages.conda"]).map(([fn, r]) => ["packages.conda", fn, r]),
    ];
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) {
      const got = await collect(text, size);
      assert.deepEqual(got.recs, want, `chunk size ${size}`);
      assert.deepEqual(got.info, doc.info);
    }
  }
  assert.deepEqual((await collect("{}", 1)).recs, []);
  assert.deepEqual((await collect('{"packages":null,"packages.conda":{}}', 1)).recs, []);
});

Deno.test("parseRepodataStream rejects truncated and malformed input", async () => {
  const text = JSON.stringify(doc);
  for (const cut of [0, 1, 10, text.indexOf("b-2.0") + 3, text.length - 1]) {
    await assert.rejects(
      () => collect(text.slice(0, cut), 5),
      /unexpected end|not a JSON/,
      `${cut}`,
    );
  }
  await assert.rejects(() => collect("[1,2]", 5), /not a JSON object/);
  await assert.rejects(() => collect('{"packages":{"a":1}}', 5), /not an object/);
  await assert.rejects(() => collect('{"packages":{"a":{}} x}', 5), /expected/);
  await assert.rejects(() => collect('{"info":{} } {', 5), /after the end/);
  await assert.rejects(() => collect('{"info":{"a":}}', 5), /info is not valid JSON/);
  const bad = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
  await assert.rejects(
    () => parseRepodataStream(pieces(bad, 2), { record: () => {} }),
    /UTF-8/,
  );
});
