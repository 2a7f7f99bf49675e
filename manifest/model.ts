/**
 * The typed model of a SUIT envelope and manifest (draft-ietf-suit-manifest-37).
 *
 * Rule for the whole part: every decoded structure keeps the exact bytes it came from (`bytes`),
 * and digests/signatures are always computed over those received bytes, never a re-encoding.
 * `encodeManifest(decodeManifest(b))` must reproduce `b` byte for byte for deterministic input.
 */
import type { CborValue, Tagged } from './cbor.js';

/** SUIT_Digest = [algorithm-id, bytes]. */
export interface SuitDigest {
  alg: number;
  bytes: Uint8Array;
}

/** SUIT_Component_Identifier = [* bstr]. */
export type ComponentId = Uint8Array[];

/** set-component-index argument. */
export type IndexArg = number | true | number[];

/** Version match (update-management): [comparison type, [+int]]. */
export interface VersionMatch {
  cmp: number;
  version: number[];
}

/**
 * A parameter value, decoded by parameter number:
 *  1,2,24 vendor/class/device id → Uint8Array (16-byte UUID) or Tagged(112, bstr) for a PEN vendor
 *  3 image-digest → SuitDigest            28 version → VersionMatch
 *  4,5,14,22,26 → number | bigint          27 update-priority → number
 *  12,13 → boolean                         18,23,25 → Uint8Array     21 uri → string
 *  19 encryption-info, 29 wait-info, 30 component-metadata → Uint8Array (the bstr-wrapped CBOR, kept raw)
 *  negative (custom) and unknown → CborValue as decoded
 */
export type ParamValue = number | bigint | boolean | string | Uint8Array | SuitDigest | VersionMatch | Tagged | CborValue;
export type ParameterMap = Map<number, ParamValue>;

/** One command of a command sequence, with its byte offset inside the sequence (for reports). */
export type Command =
  | { kind: 'condition'; code: number; policy: number; offset: number }
  | { kind: 'directive'; code: number; policy: number; offset: number } // fetch, copy, write, swap, invoke, process-dependency, unlink, wait
  | { kind: 'set-component-index'; code: 12; index: IndexArg; offset: number }
  | { kind: 'set-parameters'; code: 19 | 20; params: ParameterMap; offset: number } // 19 set-if-unset, 20 override
  | { kind: 'try-each'; code: 15; sequences: CommandSequence[]; allowAllFail: boolean; offset: number }
  | { kind: 'run-sequence'; code: 32; sequence: CommandSequence; offset: number }
  | { kind: 'override-multiple'; code: 34; byComponent: Map<number, ParameterMap>; offset: number }
  | { kind: 'copy-params'; code: 35; bySource: Map<number, number[]>; offset: number }
  | { kind: 'custom'; code: number; arg: CborValue; offset: number }; // negative command numbers

/** SUIT_Command_Sequence, with the exact bytes of the sequence array (the bstr content). */
export interface CommandSequence {
  commands: Command[];
  bytes: Uint8Array;
}

export interface SuitCommon {
  components: ComponentId[];
  /** trust-domains: component index → dependency prefix (may be absent). */
  dependencies?: Map<number, { prefix?: ComponentId }>;
  sharedSequence?: CommandSequence;
  /** Exact bytes of SUIT_Common (the bstr content). */
  bytes: Uint8Array;
}

/** A severable member inside the manifest: either the sequence/map itself or the digest of the severed copy. */
export type Severable<T> = { present: T } | { severed: SuitDigest };

/** SUIT_Text_Map (language tag → text lmap). Kept as decoded CBOR plus convenience view. */
export interface SuitText {
  /** language tag (e.g. "en") → { manifest-level key → string, and component-id map } */
  byLanguage: Map<string, { keys: Map<number, string>; components: { id: ComponentId; keys: Map<number, string> }[] }>;
  bytes: Uint8Array;
}

export interface SuitManifest {
  version: 1;
  sequenceNumber: number | bigint;
  common: SuitCommon;
  referenceUri?: string;
  manifestComponentId?: ComponentId;
  /** update-management set-version: [+int] */
  setVersion?: number[];
  validate?: CommandSequence;
  load?: CommandSequence;
  invoke?: CommandSequence;
  uninstall?: CommandSequence;
  dependencyResolution?: Severable<CommandSequence>;
  payloadFetch?: Severable<CommandSequence>;
  candidateVerification?: Severable<CommandSequence>;
  install?: Severable<CommandSequence>;
  text?: Severable<SuitText>;
  coswid?: Severable<Uint8Array>;
  /** Members this implementation does not model (key → decoded value), kept for re-encoding. */
  extensions: Map<number, CborValue>;
  /** Exact bytes of the SUIT_Manifest map (content of envelope key 3's bstr). */
  bytes: Uint8Array;
}

export interface SuitEnvelope {
  tagged: boolean;
  /** SUIT_Authentication[0] decoded. */
  digest: SuitDigest;
  /** Exact bytes of the encoded SUIT_Digest (content of the first bstr in the wrapper): the COSE detached payload. */
  digestBytes: Uint8Array;
  /** Each authentication block exactly as received (content of each bstr), i.e. tagged COSE_Sign1/Sign/Mac0/Mac. */
  authBlocks: Uint8Array[];
  manifest: SuitManifest;
  /** The encoded bstr at envelope key 3 INCLUDING its CBOR header: what the manifest digest covers. */
  manifestBstr: Uint8Array;
  /** Severed members present in the envelope: key → encoded bstr including header (what their digest covers). */
  severed: Map<number, Uint8Array>;
  /** Integrated payloads / dependencies: text key → bytes. */
  integrated: Map<string, Uint8Array>;
  /** Exact bytes the envelope was decoded from (empty for a freshly built envelope before encoding). */
  bytes: Uint8Array;
}
