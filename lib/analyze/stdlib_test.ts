import assert from "node:assert/strict";
import { classifyStdlib, STDLIB_VERSIONS, stdlibModules, stdlibVersionFor } from "./stdlib.ts";
import { UsageError } from "../errors.ts";

async function hostStdlib(): Promise<{ version: string; names: string[] } | null> {
  try {
    const out = await new Deno.Command("python3", {
      args: [
        "-c",
        "import sys,json;print(json.dumps([f'{sys.version_info[0]}.{sys.version_info[1]}'," +
        "sorted(getattr(sys,'stdlib_module_names',[]))]))",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const [version, names] = JSON.parse(new TextDecoder().decode(out.stdout));
    return names.length ? { version, names } : null;
  } catch {
    return null;
  }
}

const host = await hostStdlib();
if (!host) console.log("stdlib_test: python3 with sys.stdlib_module_names not found; skipping");

Deno.test({
  name: "stdlib: the host python3's sys.stdlib_module_names is covered by our list",
  ignore: !host,
  fn() {
    const ours = stdlibModules(host!.version);
    const missing = host!.names.filter((n) => !ours.has(n));
    assert.deepEqual(missing, []);
  },
});

Deno.test("stdlib: versions 2.7 and 3.6 to 3.14 are known", () => {
  assert.deepEqual(STDLIB_VERSIONS, [
    "2.7",
    "3.6",
    "3.7",
    "3.8",
    "3.9",
    "3.10",
    "3.11",
    "3.12",
    "3.13",
    "3.14",
  ]);
  for (const v of STDLIB_VERSIONS) {
    for (const name of ["os", "sys", "re", "json", "__future__"]) {
      assert.ok(stdlibModules(v).has(name), `${name} in ${v}`);
    }
  }
});

Deno.test("stdlib: modules removed in 3.12", () => {
  for (const name of ["asyncore", "asynchat", "imp", "distutils", "smtpd"]) {
    assert.ok(stdlibModules("3.11").has(name), `${name} in 3.11`);
    assert.ok(!stdlibModules("3.12").has(name), `${name} not in 3.12`);
    const info = classifyStdlib(name, "3.12");
    assert.equal(info?.available, false);
    assert.match(info!.note!, /removed .* 3\.12/);
  }
});

Deno.test("stdlib: modules removed in 3.13", () => {
  const gone = [
    "telnetlib",
    "cgi",
    "cgitb",
    "crypt",
    "nntplib",
    "aifc",
    "audioop",
    "chunk",
    "imghdr",
    "mailcap",
    "msilib",
    "nis",
    "ossaudiodev",
    "pipes",
    "sndhdr",
    "spwd",
    "sunau",
    "uu",
    "xdrlib",
    "lib2to3",
  ];
  for (const name of gone) {
    assert.ok(stdlibModules("3.12").has(name), `${name} in 3.12`);
    assert.ok(!stdlibModules("3.13").has(name), `${name} not in 3.13`);
    assert.ok(!stdlibModules("3.14").has(name), `${name} not in 3.14`);
  }
  assert.match(classifyStdlib("telnetlib", "3.14")!.note!, /removed .* 3\.13 \(target 3\.14\)/);
});

Deno.test("stdlib: additions (tomllib 3.11, zoneinfo 3.9, dataclasses 3.7, annotationlib 3.14)", () => {
  assert.ok(stdlibModules("3.11").has("tomllib"));
  assert.ok(!stdlibModules("3.10").has("tomllib"));
  assert.match(classifyStdlib("tomllib", "3.10")!.note!, /before Python 3\.11/);
  assert.ok(stdlibModules("3.9").has("zoneinfo") && !stdlibModules("3.8").has("zoneinfo"));
  assert.ok(stdlibModules("3.7").has("dataclasses") && !stdlibModules("3.6").has("dataclasses"));
  assert.ok(stdlibModules("3.14").has("annotationlib"));
  assert.ok(!stdlibModules("3.13").has("annotationlib"));
});

Deno.test("stdlib: private and special modules", () => {
  for (const v of STDLIB_VERSIONS.slice(1)) {
    assert.ok(stdlibModules(v).has("_thread"), `_thread in ${v}`);
    assert.ok(stdlibModules(v).has("builtins"), `builtins in ${v}`);
  }
  assert.ok(stdlibModules("2.7").has("thread"));
  assert.ok(stdlibModules("2.7").has("__builtin__"));
});

Deno.test("stdlib: Python-2-only names are stdlib, never third-party", () => {
  for (const name of ["urllib2", "ConfigParser", "cPickle", "StringIO", "Queue", "urlparse"]) {
    assert.deepEqual(classifyStdlib(name, "2.7"), { available: true });
    const info = classifyStdlib(name, "3.11");
    assert.equal(info?.available, false);
    assert.match(info!.note!, /Python 2 standard module/);
  }
});

Deno.test("stdlib: third-party names are not stdlib", () => {
  for (const name of ["numpy", "yaml", "requests", "wikipedia"]) {
    assert.equal(classifyStdlib(name, "3.11"), null);
  }
});

Deno.test("stdlib: unknown target versions use the nearest list or are rejected", () => {
  assert.deepEqual(stdlibVersionFor("3.11"), { version: "3.11" });
  assert.deepEqual(stdlibVersionFor("3.11.7"), { version: "3.11" });
  assert.equal(stdlibVersionFor("3.15").version, "3.14");
  assert.match(stdlibVersionFor("3.15").note!, /3\.15/);
  assert.equal(stdlibVersionFor("3.5").version, "3.6");
  assert.throws(() => stdlibVersionFor("banana"), UsageError);
  assert.throws(() => stdlibVersionFor("4.0"), UsageError);
});
