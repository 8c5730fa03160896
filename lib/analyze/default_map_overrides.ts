/**
 * Curated overrides of the shipped conda-forge import map: names where the
 * public rankings (`../shared/importmap/`, see `default_map_gen.ts`) pick a
 * wrong package (a rival or obsolete project, a bundle, a shim, one plugin of
 * a namespace) or have no entry at all. Each entry says what the public
 * recipe-derived table says (`publicWinner`, null when it has no entry) and
 * why the package given here is right; a test checks each one.
 *
 * @module
 */

/** One curated override. */
export interface ImportOverride {
  /** The import name (top-level, or dotted under a namespace package). */
  module: string;
  /** The conda-forge packages, best first; empty means no package (a namespace, a test dir). */
  packages: string[];
  /** The winner of the recipe-derived public table, or null when it has no entry. */
  publicWinner: string | null;
  /** Why. */
  why: string;
}

/** The overrides, applied over every public source. */
export const OVERRIDES: readonly ImportOverride[] = [
  {
    module: "brotli",
    packages: ["brotli-python"],
    publicWinner: "brotlipy",
    why:
      "brotlipy is an obsolete rival binding; brotli-python ships the brotli module of google/brotli",
  },
  { module: "bs4", packages: ["beautifulsoup4"], publicWinner: null, why: "no entry" },
  { module: "dotenv", packages: ["python-dotenv"], publicWinner: null, why: "no entry" },
  {
    module: "fitz",
    packages: ["pymupdf"],
    publicWinner: null,
    why: "no entry; PyMuPDF's legacy module name",
  },
  {
    module: "apiclient",
    packages: ["google-api-python-client"],
    publicWinner: null,
    why: "no entry; the legacy alias shipped by google-api-python-client",
  },
  {
    module: "googleapiclient",
    packages: ["google-api-python-client"],
    publicWinner: null,
    why: "no entry",
  },
  { module: "google.api_core", packages: ["google-api-core"], publicWinner: null, why: "no entry" },
  { module: "google.protobuf", packages: ["protobuf"], publicWinner: null, why: "no entry" },
  {
    module: "google",
    packages: [],
    publicWinner: "google-cloud-core",
    why: "a namespace package: only google.<sub> names a package",
  },
  {
    module: "zope",
    packages: [],
    publicWinner: "zope.sqlalchemy",
    why: "a namespace package: only zope.<sub> names a package",
  },
  { module: "grpc", packages: ["grpcio"], publicWinner: null, why: "no entry" },
  { module: "whisper", packages: ["openai-whisper"], publicWinner: null, why: "no entry" },
  { module: "Bio", packages: ["biopython"], publicWinner: null, why: "no entry" },
  { module: "gi", packages: ["pygobject"], publicWinner: null, why: "no entry" },
  {
    module: "cairo",
    packages: ["pycairo"],
    publicWinner: null,
    why: "no entry; conda-forge's cairo is the C library",
  },
  { module: "dns", packages: ["dnspython"], publicWinner: null, why: "no entry" },
  {
    module: "osgeo",
    packages: ["gdal"],
    publicWinner: null,
    why: "no entry; GDAL's Python bindings are in the gdal package",
  },
  {
    module: "mpl_toolkits.mplot3d",
    packages: ["matplotlib-base"],
    publicWinner: null,
    why: "no entry; part of matplotlib",
  },
  {
    module: "tests",
    packages: [],
    publicWinner: "xplique",
    why: "a test directory, not a module a package provides",
  },
  {
    module: "bson",
    packages: ["pymongo"],
    publicWinner: "bson",
    why: "the standalone bson project is incompatible with the bson module pymongo ships",
  },
  {
    module: "cv2",
    packages: ["opencv"],
    publicWinner: "py-opencv",
    why: "opencv is the installable top package (py-opencv is its Python split)",
  },
  {
    module: "dbt",
    packages: ["dbt-core"],
    publicWinner: "dbt-athena-community",
    why: "one adapter plugin of the dbt namespace",
  },
  {
    module: "kafka",
    packages: ["kafka-python"],
    publicWinner: "kafka-python-ng",
    why: "a fork; kafka-python is the original project",
  },
  {
    module: "kerastuner",
    packages: ["keras-tuner"],
    publicWinner: "kt-legacy",
    why: "kt-legacy is a shim that needs keras-tuner",
  },
  {
    module: "ldap",
    packages: ["python-ldap"],
    publicWinner: "ldap",
    why: "python-ldap provides the ldap module",
  },
  {
    module: "opentelemetry",
    packages: ["opentelemetry-api"],
    publicWinner: "opentelemetry-exporter-otlp",
    why: "one exporter of the namespace",
  },
  {
    module: "pdfminer",
    packages: ["pdfminer.six"],
    publicWinner: "pdfminer",
    why: "pdfminer is the obsolete original",
  },
  {
    module: "progressbar",
    packages: ["progressbar2"],
    publicWinner: "progressbar",
    why: "progressbar is the obsolete original",
  },
  {
    module: "readability",
    packages: ["readability-lxml"],
    publicWinner: "py-readability-metrics",
    why: "a different project",
  },
  {
    module: "slugify",
    packages: ["python-slugify"],
    publicWinner: "unicode-slugify",
    why: "a rival project; python-slugify is the common one",
  },
  {
    module: "websocket",
    packages: ["websocket-client"],
    publicWinner: "websocket",
    why: "a different project",
  },
  {
    module: "xdg",
    packages: ["pyxdg"],
    publicWinner: "xdg",
    why: "pyxdg is the freedesktop.org implementation",
  },
  {
    module: "zipline",
    packages: ["zipline-reloaded"],
    publicWinner: "zipline",
    why: "zipline is unmaintained; zipline-reloaded is its successor",
  },
  {
    module: "fpdf",
    packages: ["fpdf2"],
    publicWinner: "fpdf",
    why: "fpdf is the obsolete original; fpdf2 provides the fpdf module",
  },
];
