import assert from "node:assert/strict";
import { cacheKey, parseChannel } from "./channel.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseChannel resolves names, URLs and paths", () => {
  assert.deepEqual(parseChannel("conda-forge"), {
    name: "conda-forge",
    url: "https://conda.anaconda.org/conda-forge",
  });
  assert.equal(
    parseChannel("conda-forge/label/dev").url,
    "https://conda.anaconda.org/conda-forge/label/dev",
  );
  assert.equal(parseChannel("https://example.org/ch/").url, "https://example.org/ch");
  assert.equal(parseChannel("file:///srv/ch").url, "file:///srv/ch");
  assert.equal(parseChannel("/srv/my ch").url, "file:///srv/my%20ch");
  assert.equal(parseChannel("./ch", "/work").url, "file:///work/ch");
  assert.throws(() => parseChannel("ftp://x/y"), UsageError);
  assert.throws(() => parseChannel("file://host/srv/ch"), UsageError);
  assert.throws(() => parseChannel("bad name!"), UsageError);
  assert.throws(() => parseChannel(" "), UsageError);
});

Deno.test("cacheKey is readable, stable and distinct per subdir", () => {
  const a = cacheKey("https://conda.anaconda.org/conda-forge/linux-64");
  assert.match(a, /^conda\.anaconda\.org_conda-forge_linux-64-[0-9a-f]{12}$/);
  assert.equal(a, cacheKey("https://conda.anaconda.org/conda-forge/linux-64"));
  assert.notEqual(a, cacheKey("https://conda.anaconda.org/conda-forge/noarch"));
});
