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
      "brotli-feedstock: output brotli-python tests `imports: brotli`; brotlipy is an obsolete rival binding",
  },
  {
    module: "bs4",
    packages: ["beautifulsoup4"],
    publicWinner: null,
    why: "no public entry; beautifulsoup4-feedstock tests `imports: bs4`",
  },
  {
    module: "dotenv",
    packages: ["python-dotenv"],
    publicWinner: null,
    why: "no public entry; python-dotenv-feedstock tests `imports: dotenv`",
  },
  {
    module: "fitz",
    packages: ["pymupdf"],
    publicWinner: null,
    why: "no public entry; pymupdf-feedstock tests `imports: fitz`",
  },
  {
    module: "apiclient",
    packages: ["google-api-python-client"],
    publicWinner: null,
    why:
      "no public entry; google-api-python-client-feedstock tests `imports: apiclient, googleapiclient`",
  },
  {
    module: "googleapiclient",
    packages: ["google-api-python-client"],
    publicWinner: null,
    why: "no public entry; google-api-python-client-feedstock tests `imports: googleapiclient`",
  },
  {
    module: "google.api_core",
    packages: ["google-api-core"],
    publicWinner: null,
    why: "no public entry; google-api-core-feedstock tests `imports: google.api_core`",
  },
  {
    module: "google.protobuf",
    packages: ["protobuf"],
    publicWinner: null,
    why: "no public entry; protobuf-feedstock tests `imports: google.protobuf`",
  },
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
  {
    module: "grpc",
    packages: ["grpcio"],
    publicWinner: null,
    why:
      "no public entry; grpcio is the PyPI project of the grpc module (feedstock not checked: no snapshot here)",
  },
  {
    module: "whisper",
    packages: ["openai-whisper"],
    publicWinner: null,
    why:
      "no public entry; openai-whisper is the PyPI project of the whisper module (feedstock not checked: no snapshot here)",
  },
  {
    module: "Bio",
    packages: ["biopython"],
    publicWinner: null,
    why: "no public entry; biopython-feedstock tests `imports: Bio`",
  },
  {
    module: "gi",
    packages: ["pygobject"],
    publicWinner: null,
    why: "no public entry; pygobject-feedstock tests `imports: gi`",
  },
  {
    module: "cairo",
    packages: ["pycairo"],
    publicWinner: null,
    why:
      "no public entry; pycairo-feedstock tests `imports: cairo` (conda-forge's cairo is the C library)",
  },
  {
    module: "dns",
    packages: ["dnspython"],
    publicWinner: null,
    why: "no public entry; dnspython-feedstock tests `imports: dns`",
  },
  {
    module: "osgeo",
    packages: ["gdal"],
    publicWinner: null,
    why: "no public entry; gdal-feedstock: output gdal tests `imports: osgeo`",
  },
  {
    module: "mpl_toolkits.mplot3d",
    packages: ["matplotlib-base"],
    publicWinner: null,
    why:
      "no public entry; matplotlib-feedstock: output matplotlib-base tests `imports: mpl_toolkits`",
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
    why:
      "pymongo-feedstock tests `imports: bson`; the standalone bson project is incompatible with it",
  },
  {
    module: "cv2",
    packages: ["opencv"],
    publicWinner: "py-opencv",
    why:
      "opencv-feedstock: py-opencv tests `imports: cv2` and opencv pins py-opencv exactly; opencv is the installable top package",
  },
  {
    module: "dbt",
    packages: ["dbt-core"],
    publicWinner: "dbt-athena-community",
    why:
      "one adapter plugin of the dbt namespace; dbt-core is the core (feedstock not checked: no snapshot here)",
  },
  {
    module: "kafka",
    packages: ["kafka-python"],
    publicWinner: "kafka-python-ng",
    why: "kafka-python-feedstock tests `imports: kafka`; kafka-python-ng is a fork",
  },
  {
    module: "kerastuner",
    packages: ["keras-tuner"],
    publicWinner: "kt-legacy",
    why:
      "keras-tuner-feedstock depends on kt-legacy (the kerastuner alias) and tests keras_tuner; kt-legacy alone is only the alias",
  },
  {
    module: "ldap",
    packages: ["python-ldap"],
    publicWinner: "ldap",
    why: "python-ldap-feedstock tests `imports: ldap`",
  },
  {
    module: "opentelemetry",
    packages: ["opentelemetry-api"],
    publicWinner: "opentelemetry-exporter-otlp",
    why:
      "opentelemetry-api-feedstock tests `imports: opentelemetry`; the public winner is one exporter of the namespace",
  },
  {
    module: "pdfminer",
    packages: ["pdfminer.six"],
    publicWinner: "pdfminer",
    why: "pdfminer.six-feedstock tests `imports: pdfminer`; pdfminer is the obsolete original",
  },
  {
    module: "progressbar",
    packages: ["progressbar2"],
    publicWinner: "progressbar",
    why:
      "progressbar2-feedstock tests `imports: progressbar`; progressbar is the obsolete original",
  },
  {
    module: "readability",
    packages: ["readability-lxml"],
    publicWinner: "py-readability-metrics",
    why:
      "readability-lxml-feedstock tests `imports: readability`; the public winner is a different project",
  },
  {
    module: "slugify",
    packages: ["python-slugify"],
    publicWinner: "unicode-slugify",
    why: "python-slugify-feedstock tests `imports: slugify`; the public winner is a rival project",
  },
  {
    module: "websocket",
    packages: ["websocket-client"],
    publicWinner: "websocket",
    why: "websocket-client-feedstock tests `imports: websocket`",
  },
  {
    module: "xdg",
    packages: ["pyxdg"],
    publicWinner: "xdg",
    why: "pyxdg-feedstock tests `imports: xdg`",
  },
  {
    module: "zipline",
    packages: ["zipline-reloaded"],
    publicWinner: "zipline",
    why: "zipline-reloaded-feedstock tests `imports: zipline`; zipline is unmaintained",
  },
  {
    module: "fpdf",
    packages: ["fpdf2"],
    publicWinner: "fpdf",
    why: "fpdf2-feedstock tests `imports: fpdf`; fpdf is the obsolete original",
  },
];
