/**
 * Benchmarks of the worker side (`poncho run`), with hyperfine:
 * (a) warm start: `poncho run -e X -- /bin/true` vs `deno eval 0`, and the
 *     env's `bin/run_in_env /bin/true` vs `python_package_run --unpack-to`
 *     warm on the same environment;
 * (b) cold unpack of a large environment vs GNU `tar --zstd -xf`;
 * (c) 16 concurrent cold starts vs one.
 *
 * Run: `deno run -A bench/run_bench.ts [SIZE_MB]` (default 1024).
 *
 * @module
 */

import { makeEnvArchive } from "../tests/fixtures/env_archive.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

function sh(cmd: string): { ok: boolean; out: string } {
  const r = new Deno.Command("sh", { args: ["-c", cmd], stderr: "inherit" }).outputSync();
  return { ok: r.success, out: new TextDecoder().decode(r.stdout) };
}

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Runs hyperfine and returns mean seconds per command. */
function hyperfine(commands: string[], opts: string[]): number[] {
  const json = `/tmp/poncho-bench-${crypto.randomUUID().slice(0, 8)}.json`;
  const args = [...opts, "--export-json", json, "-N", ...commands].map(q).join(" ");
  const r = sh(`hyperfine --style basic ${args} >&2`);
  if (!r.ok) throw new Error("hyperfine failed");
  const data = JSON.parse(Deno.readTextFileSync(json));
  Deno.removeSync(json);
  return data.results.map((x: { mean: number }) => x.mean);
}

/**
 * The peer of a warm `poncho run`: a CCTools-style copy of the environment
 * tree `tree` (a no-op `conda-unpack`, an `activate`) packed as
 * `work/ppr.tar.gz` and unpacked once by `python_package_run` into
 * `work/ppr-unpacked`, so that later `python_package_run -e ARCHIVE -u DIR`
 * starts are warm.
 */
export function pythonPackageRunPeer(work: string, tree: string): { archive: string; dir: string } {
  const ppr = `${work}/ppr-env`;
  sh(
    `cp -a ${tree} ${ppr} && printf '#!/bin/sh\\ntrue\\n' > ${ppr}/bin/conda-unpack && ` +
      `chmod +x ${ppr}/bin/conda-unpack && printf 'export PATH=${ppr}/bin:$PATH\\n' > ${ppr}/bin/activate && ` +
      `date > ${ppr}/.python_package_run_expanded`,
  );
  const archive = `${work}/ppr.tar.gz`;
  sh(`tar -czf ${archive} -C ${ppr} .`);
  const dir = `${work}/ppr-unpacked`;
  sh(`python_package_run -e ${archive} -u ${dir} -- /bin/true`);
  return { archive, dir };
}

/** Runs all benchmarks and returns the figures (seconds) by name. */
export async function runRunBench(sizeMb = 1024): Promise<Record<string, number>> {
  const deno = Deno.execPath();
  const work = await Deno.makeTempDir({ prefix: "poncho-run-bench-" });
  const figures: Record<string, number> = {};
  try {
    const small = await makeEnvArchive(work, "small.tar.zst");
    const store = `${work}/store`;
    const poncho = `${deno} run -A --quiet ${MAIN} run --store ${store}`;
    sh(`${poncho} -e ${small.archive} -- /bin/true`);
    const { archive: pprArchive, dir: pprDir } = pythonPackageRunPeer(work, small.tree);
    const envPath = sh(
      `${deno} run -A --quiet ${MAIN} store path ${small.archive} --store ${store}`,
    )
      .out.trim();

    // Invoked as `deno task poncho` does (`deno run -A --quiet cli/main.ts`);
    // many runs, since the two differ by a few milliseconds.
    const [warm, bare] = hyperfine(
      [`${poncho} -e ${small.archive} -- /bin/true`, `${deno} eval 0`],
      ["--warmup", "10", "--runs", "100"],
    );
    figures["warm poncho run /bin/true"] = warm;
    figures["deno eval 0"] = bare;
    const [rie, pprWarm] = hyperfine(
      [
        `${envPath}/bin/run_in_env /bin/true`,
        `python_package_run -e ${pprArchive} -u ${pprDir} -- /bin/true`,
      ],
      ["--warmup", "5", "--runs", "60"],
    );
    figures["run_in_env /bin/true"] = rie;
    figures["python_package_run --unpack-to (warm) /bin/true"] = pprWarm;

    // (b) cold unpack of a large environment.
    const big = await makeEnvArchive(work, "big.tar.zst", {
      fillerBytes: sizeMb << 20,
      fillerFiles: Math.max(64, sizeMb * 20),
    });
    await Deno.remove(big.tree, { recursive: true });
    const coldStore = `${work}/cold`;
    const tarDir = `${work}/tarx`;
    const [cold, tar] = hyperfine(
      [
        `${deno} run -A --quiet ${MAIN} run --store ${coldStore} -e ${big.archive} -- /bin/true`,
        `sh -c "mkdir -p ${tarDir} && tar --zstd -xf ${big.archive} -C ${tarDir}"`,
      ],
      ["--runs", "3", "--prepare", `rm -rf ${coldStore} ${tarDir}`],
    );
    figures[`cold unpack ${sizeMb} MB (poncho run)`] = cold;
    figures[`cold unpack ${sizeMb} MB (GNU tar --zstd -xf)`] = tar;

    // (c) 16 concurrent cold starts vs one (the small env).
    const cc = `${work}/cc`;
    const one = `${deno} run -A --quiet ${MAIN} run --store ${cc} -e ${small.archive} -- /bin/true`;
    const sixteen = `sh -c '${Array.from({ length: 16 }, () => `${one} &`).join(" ")} wait'`;
    const [c1, c16] = hyperfine([one, sixteen], ["--runs", "5", "--prepare", `rm -rf ${cc}`]);
    figures["1 cold start"] = c1;
    figures["16 concurrent cold starts"] = c16;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  return figures;
}

if (import.meta.main) {
  const figures = await runRunBench(Number(Deno.args[0] ?? 1024));
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${(v * 1000).toFixed(1)} ms`);
}
