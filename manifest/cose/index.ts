// Public face of manifest/cose (filled in by its owner; see docs/manifest-api.md).
export {};
