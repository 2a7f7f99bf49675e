// Public face of manifest/processor (filled in by its owner; see docs/manifest-api.md).
export {};
