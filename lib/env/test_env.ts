/**
 * Test fixtures for the worker side: real environment archives built from a
 * hand-made prefix with GNU tar and zstd, with a manifest as first member
 * (text and binary relocation records), a C program compiled with gcc that
 * holds a 255-character placeholder, a Python launcher, an activation
 * script, a symlink, a hardlink and a setuid file. Used by tests and
 * benchmarks only.
 *
 * @module
 */

import type { EnvManifest } from "./manifest.ts";

/** Whether the tools the fixtures need (gcc, GNU tar, zstd, python3) are installed. */
export function fixtureToolsAvailable(): boolean {
  for (const tool of ["gcc", "tar", "zstd", "python3"]) {
    try {
      const out = new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (!out.success) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The 255-character binary placeholder (as conda-build pads them). */
export function binaryPlaceholder(): string {
  const base = "/opt/poncho-placeholder";
  return base + "_placehold".repeat(30).slice(0, 255 - base.length);
}

const C_SOURCE = (placeholder: string) =>
  `#include <stdio.h>
#include <string.h>
static const char prefix[] = "${placeholder}";
int main(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/share/greeting.txt", prefix);
  FILE *f = fopen(path, "r");
  if (!f) { printf("missing %s\\n", path); return 3; }
  char line[256] = {0};
  if (!fgets(line, sizeof line, f)) line[0] = 0;
  fclose(f);
  line[strcspn(line, "\\n")] = 0;
  printf("%s|%s\\n", prefix, line);
  return 0;
}
`;

/** Options of {@link makeEnvTree}. */
export interface EnvTreeOptions {
  /** Extra bytes of filler, spread over `count` files (for benchmarks). */
  fillerBytes?: number;
  /** Number of filler files. */
  fillerFiles?: number;
  /** Omit the manifest (an archive "without a manifest"). */
  noManifest?: boolean;
}

/**
 * Builds an environment tree in `dir` whose text files hold `dir` itself as
 * the build prefix and whose binary holds the 255-character placeholder.
 * Returns its manifest.
 */
export async function makeEnvTree(
  dir: string,
  options: EnvTreeOptions = {},
): Promise<EnvManifest> {
  const placeholder = binaryPlaceholder();
  for (const d of ["bin", "etc/conda/activate.d", "lib/python/site-packages", "share", ".poncho"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(`${dir}/hello.c`, C_SOURCE(placeholder));
  const cc = await new Deno.Command("gcc", {
    args: ["-O1", "-o", `${dir}/bin/hello`, `${dir}/hello.c`],
  }).output();
  if (!cc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(cc.stderr)}`);
  await Deno.remove(`${dir}/hello.c`);
  await Deno.writeTextFile(`${dir}/share/greeting.txt`, "hello from share\n");
  await Deno.link(`${dir}/share/greeting.txt`, `${dir}/share/greeting-hardlink.txt`);
  const python = new TextDecoder().decode(
    (await new Deno.Command("python3", { args: ["-c", "import sys; print(sys.executable)"] })
      .output()).stdout,
  ).trim();
  await Deno.writeTextFile(
    `${dir}/bin/python`,
    `#!/bin/sh\nPYTHONPATH="${dir}/lib/python/site-packages" exec ${python} "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.chmod(`${dir}/bin/python`, 0o755);
  await Deno.symlink("python", `${dir}/bin/python3`);
  await Deno.writeTextFile(
    `${dir}/lib/python/site-packages/ponchomod.py`,
    `PREFIX = "${dir}"\n\ndef where():\n    return __file__\n`,
  );
  await Deno.writeTextFile(
    `${dir}/bin/greet`,
    `#!${dir}/bin/python\nimport ponchomod, sys\nprint("greet", ponchomod.PREFIX, sys.argv[1:])\n`,
  );
  await Deno.chmod(`${dir}/bin/greet`, 0o755);
  await Deno.writeTextFile(
    `${dir}/etc/conda/activate.d/poncho-test.sh`,
    'export PONCHO_TEST_ACTIVATED="yes:$CONDA_PREFIX"\n',
  );
  await Deno.writeTextFile(`${dir}/bin/suid-tool`, "#!/bin/sh\necho suid\n");
  await Deno.chmod(`${dir}/bin/suid-tool`, 0o4755);
  const count = options.fillerFiles ?? 0;
  if (count > 0) {
    const per = Math.floor((options.fillerBytes ?? 0) / count);
    const data = new Uint8Array(per);
    for (let i = 0; i < per; i++) data[i] = (i * 2654435761) >>> 24; // compressible-ish, not trivial
    for (let i = 0; i < count; i++) {
      const sub = `${dir}/lib/filler/d${i % 64}`;
      await Deno.mkdir(sub, { recursive: true });
      data[0] = i & 255;
      await Deno.writeFile(`${sub}/f${i}.bin`, data);
    }
  }
  const manifest: EnvManifest = {
    format: 1,
    id: `test-${crypto.randomUUID().replaceAll("-", "")}`,
    platform: "linux-64",
    buildPrefix: dir,
    created: new Date().toISOString(),
    poncho: "test",
    relocations: [
      { path: "bin/hello", placeholder, mode: "binary" },
      { path: "bin/python", placeholder: dir, mode: "text" },
      { path: "bin/greet", placeholder: dir, mode: "text" },
      { path: "lib/python/site-packages/ponchomod.py", placeholder: dir, mode: "text" },
    ],
  };
  if (!options.noManifest) {
    await Deno.writeTextFile(`${dir}/.poncho/manifest.json`, JSON.stringify(manifest, null, 1));
  } else await Deno.remove(`${dir}/.poncho`, { recursive: true });
  return manifest;
}

/**
 * Packs `dir` into `archive` with GNU tar (zstd for `.tar.zst`, gzip for
 * `.tar.gz`), the manifest first when present.
 */
export async function packTree(dir: string, archive: string): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name !== ".poncho") names.push(e.name);
  names.sort();
  const hasManifest = await Deno.stat(`${dir}/.poncho/manifest.json`).then(() => true, () => false);
  const members = hasManifest ? [".poncho/manifest.json", ...names] : names;
  const compress = archive.endsWith(".zst") ? ["--zstd"] : archive.endsWith(".gz") ? ["-z"] : [];
  const out = await new Deno.Command("tar", {
    args: [...compress, "-cf", archive, "-C", dir, ...members],
  }).output();
  if (!out.success) throw new Error(`tar failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Builds a test environment in a fresh temp dir and packs it; returns both paths. */
export async function makeEnvArchive(
  work: string,
  name = "env.tar.zst",
  options: EnvTreeOptions = {},
): Promise<{ tree: string; archive: string; manifest: EnvManifest }> {
  const tree = `${work}/build-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tree, { recursive: true });
  const manifest = await makeEnvTree(tree, options);
  const archive = `${work}/${name}`;
  await packTree(tree, archive);
  return { tree, archive, manifest };
}
