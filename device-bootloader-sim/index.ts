/**
 * device-bootloader-sim: a simulated constrained device with a power-fail-safe SUIT bootloader.
 * Public API for the network agent, tests and tools (docs/bootloader.md).
 */
export { Device, type DeviceConfig, type BootInfo, type DeviceStats, type DeviceSnapshot } from './device.js';
export { Stager, type StageOptions } from './staging.js';
export { Flash, FaultInjector, prng, type FlashGeometry, type FlashTiming, type FaultPlan, type CutMode, type TornFill, type EraseValue, type WriteAlign, type FlashStats } from './flash.js';
export { RamBudget } from './ram.js';
export { Otp, EfuseCounter } from './otp.js';
export { FlashCounter } from './counters.js';
export { Journal, type Unit } from './journal.js';
export { PROFILES, getProfile, profileNames, layoutOf, maxImageSize, geometryOf, type Profile, type Layout, type Strategy } from './profiles.js';
export type { BootState, Phase, LastResult, RevertReason } from './state.js';
export { setSignatureCache, type DeviceIdentity, type VerifiedImage, type ImageClaims } from './verify.js';
export { runSweep, type SweepOptions, type SweepSummary, type ScenarioResult, type ScenarioName } from './faults.js';
export { makeVendor, makeRelease, makeImage, makeDevice, anchorKey, type Vendor, type ReleaseSpec } from './fixtures.js';
