// Public face of manifest/envelope (filled in by its owner; see docs/manifest-api.md).
export {};
