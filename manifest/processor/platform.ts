/**
 * The port between the SUIT processor and a device (draft-ietf-suit-manifest-37 §6: the abstract
 * machine's `current`, `store`, `fetch`, `invoke`, identity and slot functions).
 *
 * The processor interprets command sequences; everything that touches storage, the network, the clock,
 * the battery or the user goes through this interface. Implementations: the device simulator
 * (flash-backed, `device-bootloader-sim/`), `DryRunPlatform` (records what a manifest would do) and
 * test platforms.
 *
 * Conventions for implementers:
 *  - Every method is async: flash and network are async in the simulator.
 *  - Components are named by their SUIT_Component_Identifier (`ComponentId`, an array of byte strings,
 *    e.g. `[h'00']`). Compare ids with `componentIdKey(id)` (a stable string) rather than by reference.
 *  - Failures are thrown as `UpdateError` (manifest/errors.ts) with the most specific code
 *    (`COMPONENT_UNKNOWN` for an id the device does not have, `FETCH_FAILED`, `INVOKE_FAILED`,
 *    `SLOT_TOO_SMALL`, `FLASH_*`, `POWER_LOSS`, ...). The processor passes an `UpdateError` through
 *    unchanged and wraps anything else (fetch → `FETCH_FAILED`, invoke → `INVOKE_FAILED`, other →
 *    `INTERNAL`), so a thrown plain `Error` is treated as a bug of the platform.
 *  - Optional methods: when one is absent, the command that needs it fails with
 *    `COMMAND_UNSUPPORTED` (update-management: "unimplemented ⇒ reject manifest"), except where noted.
 *  - Conditions must have no side effects (§6.4), so the identity/slot/version/battery queries must
 *    not change device state.
 */
import type { CborValue, Tagged } from '../cbor.js';
import type { ComponentId, ParamValue, SuitDigest } from '../model.js';
import type { SuitRecord } from './report.js';

/** A vendor/class/device identifier as the device knows it: a 16-byte UUID, or a CBOR PEN #6.112(bstr) for vendors. */
export type IdentityValue = Uint8Array | Tagged;

/** Bytes delivered in bounded chunks (for streaming writes; the processor never buffers a whole image). */
export type ByteSource = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * What a directive or platform-delegated condition knows about the current component when it calls the
 * platform. `parameters` is the processor's parameter storage for this component at the time of the call
 * (read-only view), so a platform can use e.g. image-size (14) to pre-size a slot, encryption-info (19)
 * to decrypt on write/copy, or update-priority (27) when asked for authorization.
 */
export interface CommandContext {
  /** Index of the component in the manifest's `suit-components` (or dependency index). */
  componentIndex: number;
  componentId: ComponentId;
  parameters: ReadonlyMap<number, ParamValue>;
  /** Manifest section being executed (manifest key number: 7 validate, 8 load, 9 invoke, 15, 16, 18, 20). */
  section: number;
  /** Path of the manifest in the dependency tree (`[]` = root), as in SUIT_Record's manifest-id. */
  manifestId: number[];
  /** The component is a dependency (listed in suit-dependencies): it holds a SUIT_Envelope. */
  dependency: boolean;
}

/** A handler for a custom (negative) command number. */
export interface CustomCommandHandler {
  /** `condition` handlers return whether the condition holds; `directive` handlers act and return nothing. */
  kind: 'condition' | 'directive';
  run(arg: CborValue, ctx: CommandContext): Promise<boolean | void>;
}

/** What process-dependency hands the platform (draft-ietf-suit-trust-domains §6.5). */
export interface DependencyRequest extends CommandContext {
  /** The dependency prefix from `suit-dependencies`, if the manifest gave one. */
  prefix?: ComponentId;
}

export interface Platform {
  // ---------------------------------------------------------------- component storage

  /**
   * Read `length` bytes from `offset` of the component's content (default: all of it).
   * Used by check-content and by tools; images are never read whole by the processor otherwise.
   */
  read(id: ComponentId, offset?: number, length?: number): Promise<Uint8Array>;

  /**
   * Length in bytes of the component's current *content* (what was last written/fetched/installed),
   * not the capacity of its slot. `undefined` when the component is empty or absent.
   */
  size(id: ComponentId): Promise<number | undefined>;

  /**
   * Digest of the component's current content with COSE hash algorithm `alg` (-16 SHA-256, ...),
   * over the first `length` bytes when given (the processor passes image-size when it is set).
   * The platform may compute it streaming, cache it, or (test platforms) return a known value.
   * Returns `undefined` when the component is empty. Throw `DIGEST_ALGORITHM_UNSUPPORTED` for an
   * algorithm the platform cannot compute.
   */
  digest(id: ComponentId, alg: number, length?: number): Promise<SuitDigest | undefined>;

  /**
   * Optional: decide suit-condition-image-match (and image-not-match) itself, e.g. by hashing flash while
   * streaming and comparing with `expected` (constant time), or, in a dry run, by assuming the outcome.
   * `size` is the image-size parameter when set. Return `undefined` to let the processor decide with
   * `size()`/`digest()`. When `ctx.dependency` is true the component holds a dependency envelope and
   * `expected` is that envelope's manifest digest (SUIT_Authentication[0]), not a digest of the bytes
   * (trust-domains); most platforms return `undefined` then.
   */
  matchImage?(id: ComponentId, expected: SuitDigest, size: number | undefined, ctx: CommandContext): Promise<boolean | undefined>;

  /** Replace the component's content (suit-directive-write: `content` parameter, or a decrypted stream). */
  write(id: ComponentId, data: ByteSource, ctx: CommandContext): Promise<void>;

  /**
   * suit-directive-copy: store(dst, content of src). `ctx.parameters` carries encryption-info (19) when
   * the copy must decrypt; a platform that cannot decrypt throws `COMMAND_UNSUPPORTED`.
   */
  copy(dst: ComponentId, src: ComponentId, ctx: CommandContext): Promise<void>;

  /** suit-directive-swap: exchange the contents of two components (must be power-fail safe on a real device). */
  swap(a: ComponentId, b: ComponentId, ctx: CommandContext): Promise<void>;

  // ---------------------------------------------------------------- network and execution

  /**
   * suit-directive-fetch: fetch `uri` and store it into `target`, writing in bounded chunks as the
   * platform sees fit. (A URI naming an integrated payload of the envelope, e.g. `#firmware`, is
   * resolved by the processor itself and stored with `write`; it never reaches this method.) `fetchArgs` is the fetch-arguments
   * parameter (25) when set. Throw `FETCH_FAILED` (or a more specific code) on failure.
   */
  fetch(uri: string, fetchArgs: Uint8Array | undefined, target: ComponentId, ctx: CommandContext): Promise<void>;

  /**
   * suit-directive-invoke: hand control to the component with the invoke-args parameter (23).
   * Resolve when the invoked image has been started (or returned); throw `INVOKE_FAILED` otherwise.
   */
  invoke(id: ComponentId, args: Uint8Array | undefined, ctx: CommandContext): Promise<void>;

  // ---------------------------------------------------------------- identity (binary match, §6.4)

  /** Vendor ids this device accepts for the component (a device may match several; empty = none). */
  vendorIds(id: ComponentId): Promise<readonly IdentityValue[]>;
  /** Class ids this device accepts for the component. */
  classIds(id: ComponentId): Promise<readonly IdentityValue[]>;
  /** Device ids (unique per device) for the component. */
  deviceIds(id: ComponentId): Promise<readonly IdentityValue[]>;

  /** Slot number of the component (suit-condition-component-slot); `undefined` if it has none. */
  componentSlot(id: ComponentId): Promise<number | bigint | undefined>;

  // ---------------------------------------------------------------- update management (optional)

  /** Energy available in mWh (suit-condition-minimum-battery). Absent ⇒ COMMAND_UNSUPPORTED. */
  batteryMilliwattHours?(): Promise<number>;

  /**
   * suit-condition-update-authorized: whether the user/operator allows the update now.
   * `ctx.parameters.get(27)` is the update-priority when set. Absent ⇒ COMMAND_UNSUPPORTED.
   */
  updateAuthorized?(ctx: CommandContext): Promise<boolean>;

  /**
   * Installed version of the component as an int array (update-management version encoding,
   * e.g. 1.2-rc.3 = [1,2,-1,3]); `undefined` if unknown (the version condition then fails).
   * Absent ⇒ COMMAND_UNSUPPORTED.
   */
  currentVersion?(id: ComponentId): Promise<readonly number[] | undefined>;

  /**
   * Trusted time, seconds since the Unix epoch, for suit-condition-use-before.
   * There is no trusted clock by default: when this method is absent, or it returns `undefined`
   * (no trustworthy time available right now), use-before FAILS CLOSED (condition failure).
   * A platform whose policy accepts an untrusted clock returns that clock's value.
   */
  now?(): Promise<number | bigint | undefined>;

  /**
   * suit-directive-wait: resolve when the events in `waitInfo` (the raw bstr-wrapped wait-info map,
   * parameter 29) have occurred; throw (e.g. `CONDITION_FAILED`) to give up. Absent ⇒ COMMAND_UNSUPPORTED.
   */
  waitFor?(waitInfo: Uint8Array, ctx: CommandContext): Promise<void>;

  // ---------------------------------------------------------------- dependencies (trust-domains, optional)

  /**
   * suit-condition-dependency-integrity: authenticate the SUIT_Envelope stored in component `id`
   * against the device's trust anchors and check that its manifest digest equals `expected`
   * (the image-digest parameter). Return false on mismatch. Absent ⇒ COMMAND_UNSUPPORTED.
   */
  dependencyIntegrity?(id: ComponentId, expected: SuitDigest, ctx: CommandContext): Promise<boolean>;

  /**
   * suit-directive-process-dependency: run section `req.section` of the dependency manifest stored in
   * `req.componentId` (the processor has already checked that the component is a dependency and that
   * dependency-integrity passed in this manifest). Typically the platform calls `processEnvelope` on it
   * with `manifestId: [...req.manifestId, req.componentIndex]` (see `processDependencyEnvelope`).
   * May return the dependency's report records, which the processor appends to its own report.
   * Throw `DEPENDENCY_FAILED` on failure. Absent ⇒ COMMAND_UNSUPPORTED.
   */
  processDependency?(req: DependencyRequest): Promise<void | SuitRecord[]>;

  /** suit-directive-unlink (trust-domains): drop this manifest's reference to the component. Absent ⇒ COMMAND_UNSUPPORTED. */
  unlink?(id: ComponentId, ctx: CommandContext): Promise<void>;

  // ---------------------------------------------------------------- extensions

  /** Handlers for custom (negative) command numbers. Unregistered custom commands ⇒ COMMAND_UNSUPPORTED. */
  customCommands?: ReadonlyMap<number, CustomCommandHandler>;
}

/** A stable string key for a component id (hex of each element joined by '/'), for maps keyed by component. */
export function componentIdKey(id: ComponentId): string {
  return id.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')).join('/');
}

/** Human form of a component id in EDN style: printable ASCII elements as 'text', others as hex: `[00]`, `['app', 01]`. */
export function formatComponentId(id: ComponentId): string {
  const part = (b: Uint8Array): string =>
    b.length >= 2 && b.every((x) => x >= 0x20 && x < 0x7f && x !== 0x27)
      ? `'${String.fromCharCode(...b)}'`
      : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `[${id.map(part).join(', ')}]`;
}
