import assert from "node:assert/strict";
import { decodePythonSource } from "./decode.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc(p)] : p));

Deno.test("decode: UTF-8 by default, BOM stripped", () => {
  assert.deepEqual(decodePythonSource(enc("x = 'é'\n")), { text: "x = 'é'\n", encoding: "utf-8" });
  assert.deepEqual(decodePythonSource(bytes([0xef, 0xbb, 0xbf], "import os\n")), {
    text: "import os\n",
    encoding: "utf-8",
  });
});

Deno.test("decode: coding cookie on line 1 or 2 (line 2 only after a comment or blank)", () => {
  const latin = decodePythonSource(bytes("# -*- coding: latin-1 -*-\nx = '", [0xe9], "'\n"));
  assert.deepEqual(latin, { text: "# -*- coding: latin-1 -*-\nx = 'é'\n", encoding: "latin-1" });
  const second = decodePythonSource(
    bytes("#!/usr/bin/env python\n# vim: set fileencoding=koi8-r :\n", [0xc1], "\n"),
  );
  assert.equal(second.encoding, "koi8-r");
  assert.ok(second.text.endsWith("а\n")); // Cyrillic a
  // A cookie on line 2 after code is ignored (UTF-8, then the Latin-1 fallback for bad bytes).
  const ignored = decodePythonSource(bytes("x = 1\n# coding: latin-1\n", [0xe9], "\n"));
  assert.equal(ignored.encoding, "latin-1");
  assert.match(ignored.warning ?? "", /not valid UTF-8/);
  assert.equal(decodePythonSource(enc("# coding=utf_8\nx\n")).encoding, "utf-8");
  assert.equal(decodePythonSource(enc("# coding: iso-8859-1-unix\nx\n")).encoding, "latin-1");
});

Deno.test("decode: true Latin-1, not Windows-1252, for bytes 0x80-0x9f", () => {
  const { text } = decodePythonSource(bytes("# coding: latin-1\n", [0x80, 0x9f]));
  assert.deepEqual([...text.slice(-2)].map((c) => c.charCodeAt(0)), [0x80, 0x9f]);
});

Deno.test("decode: invalid bytes or unknown encodings fall back to Latin-1 with a warning", () => {
  const bad = decodePythonSource(bytes("import os\nx = '", [0xff, 0xfe], "'\n"));
  assert.equal(bad.encoding, "latin-1");
  assert.ok(bad.text.startsWith("import os\n"));
  const unknown = decodePythonSource(enc("# coding: no-such-codec\nimport os\n"));
  assert.equal(unknown.encoding, "latin-1");
  assert.match(unknown.warning ?? "", /no-such-codec/);
  assert.equal(decodePythonSource(new Uint8Array()).text, "");
});
