/** Poncho's own version, printed by `poncho --version`. */
export const VERSION = "0.1.0";
