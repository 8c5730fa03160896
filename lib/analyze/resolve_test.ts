import assert from "node:assert/strict";
import type { InstalledIndex } from "./installed.ts";
import { loadDefaultMap } from "./default_map.ts";
import { type ResolveContext, resolveImport, sameNamePackage } from "./resolve.ts";
import type { DeclaredRequirement } from "./declared.ts";
import { buildImportMap, moduleIndex } from "../index/import_map.ts";

const cf = await loadDefaultMap();

function ctx(extra: Partial<ResolveContext> = {}): ResolveContext {
  return {
    userMappings: new Map(),
    declared: [],
    channelModules: new Map(),
    defaultMap: cf,
    ...extra,
  };
}
const pkg = (module: string, c = ctx()) => resolveImport(module, c)?.package ?? null;

Deno.test("resolve: the shipped map names packages the import name does not", () => {
  const expect: Record<string, string> = {
    PIL: "pillow",
    cv2: "opencv",
    sklearn: "scikit-learn",
    yaml: "pyyaml",
    bs4: "beautifulsoup4",
    skimage: "scikit-image",
    attr: "attrs",
    dateutil: "python-dateutil",
    taggit: "django-taggit",
    dj_database_url: "dj-database-url",
    apiclient: "google-api-python-client",
    git: "gitpython",
    snappy: "python-snappy",
    graphviz: "python-graphviz",
  };
  for (const [module, name] of Object.entries(expect)) {
    const c = resolveImport(`${module}.sub`, ctx());
    assert.equal(c?.package, name, module);
    assert.equal(c?.manager, "conda");
  }
  assert.equal(pkg("google.protobuf.message"), "protobuf");
  assert.equal(pkg("google.cloud.storage"), "google-cloud-storage");
  assert.equal(pkg("google.api_core.exceptions"), "google-api-core");
});

Deno.test("resolve: same name only for conda-forge Python packages, _ as - too, else unresolved", () => {
  assert.deepEqual(resolveImport("numpy.linalg", ctx()), {
    package: "numpy",
    manager: "conda",
    source: "name",
    spec: "numpy",
  });
  assert.equal(sameNamePackage("sentence_transformers", cf), "sentence-transformers");
  assert.equal(pkg("zope.interface"), "zope.interface");
  // names of non-Python conda-forge packages are not guessed
  for (const m of ["hdf5", "proj", "libxml2"]) assert.equal(pkg(m), null, m);
  assert.equal(pkg("ffmpeg"), "ffmpeg-python"); // the binding whose module is ffmpeg, not the C tools
  assert.equal(pkg("surely_not_a_package_xyz"), null);
  // a namespace alone names nothing
  assert.equal(pkg("google"), null);
  assert.equal(pkg("google.no_such_sub_xyz"), null);
  assert.equal(pkg("google.colab"), "google-colab"); // by its dotted name joined with -
  // without conda-forge among the channels, neither the shipped map nor the same-name rule apply
  assert.equal(pkg("numpy", ctx({ defaultMap: undefined })), null);
});

Deno.test("resolve: a target channel's import map comes before the shipped map", () => {
  const channelModules = moduleIndex([
    buildImportMap("noarch", [
      { name: "my-yaml", modules: ["yaml"] },
      { name: "corp-tools", modules: ["corp.tools", "corptools"] },
    ]),
  ]);
  const c = ctx({ channelModules });
  assert.equal(pkg("yaml", c), "my-yaml");
  assert.equal(resolveImport("corp.tools.x", c)?.source, "channel");
  assert.equal(pkg("corp.tools.x", ctx({ channelModules, defaultMap: undefined })), "corp-tools");
});

Deno.test("resolve: providers of one module in a channel are ranked (same name, then smaller)", () => {
  const idx = moduleIndex([
    buildImportMap("noarch", [
      { name: "bundle", modules: ["dateutil", "six", "yaml", "x"] },
      { name: "python-dateutil", modules: ["dateutil"] },
      { name: "six", modules: ["six"] },
    ]),
  ]);
  assert.deepEqual(idx.get("dateutil"), ["python-dateutil", "bundle"]);
  assert.deepEqual(idx.get("six"), ["six", "bundle"]);
});

const installed: InstalledIndex = {
  modules: new Map([
    ["yaml", [{ name: "pyyaml", version: "6.0.1", manager: "conda" as const }]],
    ["foo", [{ name: "foo-dist", version: "1.0", manager: "pip" as const }]],
    ["requests", [{ name: "requests", version: "2.31.0", manager: "pip" as const }]],
    ["git", [{ name: "gitpython", version: "3.1.40", manager: "pip" as const }]],
  ]),
  sitePackages: [],
  condaMeta: [],
  problems: [],
};

Deno.test("resolve: --pkg-mapping, then installed metadata; pip dists conda-forge has become conda pins", () => {
  const user = new Map([["yaml", "ruamel.yaml"], ["bar", "pip:bar-dist>=2"]]);
  assert.equal(resolveImport("yaml", ctx({ userMappings: user, installed }))?.spec, "ruamel.yaml");
  assert.deepEqual(resolveImport("bar.x", ctx({ userMappings: user, installed })), {
    package: "bar-dist",
    manager: "pip",
    source: "user",
    spec: "bar-dist>=2",
  });
  assert.equal(resolveImport("yaml", ctx({ installed }))?.spec, "pyyaml=6.0.1");
  assert.deepEqual(resolveImport("foo", ctx({ installed })), {
    package: "foo-dist",
    version: "1.0",
    manager: "pip",
    source: "installed",
    spec: "foo-dist==1.0",
  });
  assert.deepEqual(resolveImport("requests", ctx({ installed })), {
    package: "requests",
    version: "2.31.0",
    manager: "conda",
    source: "installed",
    spec: "requests=2.31.0",
  });
  assert.equal(resolveImport("git", ctx({ installed }))?.spec, "gitpython=3.1.40");
  // without conda-forge as a target the pip pin stays a pip pin
  assert.equal(
    resolveImport("requests", ctx({ installed, defaultMap: undefined }))?.spec,
    "requests==2.31.0",
  );
  assert.equal(resolveImport("PIL", ctx({ installed }))?.spec, "pillow");
});

const req = (text: string, name: string, kind: "pypi" | "conda" = "pypi"): DeclaredRequirement => ({
  text,
  name,
  kind,
  location: "requirements.txt:1",
});

Deno.test("resolve: declared requirements win for the imports they cover", () => {
  const declared = [
    req("django-taggit>=3,<4", "django-taggit"),
    req("beautifulsoup4==4.12.2", "beautifulsoup4"),
    req("PyYAML~=6.0", "pyyaml"),
    req("internal-lib==1.0", "internal-lib"),
    req("numpy=1.26", "numpy", "conda"),
  ];
  const c = ctx({ declared, installed });
  assert.deepEqual(resolveImport("taggit", c), {
    package: "django-taggit",
    manager: "conda",
    source: "declared",
    spec: "django-taggit >=3,<4",
  });
  assert.equal(resolveImport("bs4", c)?.spec, "beautifulsoup4 ==4.12.2");
  assert.equal(resolveImport("yaml", c)?.spec, "pyyaml >=6.0,==6.*"); // over the installed pin
  assert.deepEqual(resolveImport("internal_lib", c), {
    package: "internal-lib",
    manager: "pip",
    source: "declared",
    spec: "internal-lib==1.0",
  });
  assert.equal(resolveImport("numpy", c)?.spec, "numpy=1.26");
  assert.equal(resolveImport("requests", c)?.source, "installed"); // not covered
});

Deno.test("resolve: curated overrides of the shipped map, one test each", async (t) => {
  const { OVERRIDES } = await import("./default_map_overrides.ts");
  for (const o of OVERRIDES) {
    await t.step(`${o.module} -> ${o.packages.join(", ") || "(none)"}`, () => {
      assert.deepEqual(cf.modules.get(o.module), o.packages);
      assert.equal(pkg(o.module), o.packages[0] ?? null);
      assert.notEqual(o.publicWinner, o.packages[0], "an override differs from the public winner");
    });
  }
});
