/** The network update agent, the simulated fleet and the radio energy model (docs/agent.md). */
export { UpdateAgent, defaultHealthCheck, SELFTEST_FAIL_MARKER, type AgentOptions, type AgentEvent, type AgentStats, type AgentFaults, type ReportStatus } from './agent.js';
export { Fleet, provisionDevice, saveSnapshot, loadSnapshot, snapshotDir, type FleetOptions, type FleetMember, type ProvisionSpec } from './fleet.js';
export { AgentNvm, type AgentRecord, type AgentNvmData, type AgentNvmOptions } from './nvm.js';
export { RADIOS, getRadio, energyPerByte, radioCost, type RadioProfile } from './radio.js';
export { CandidateWriter } from './candidate.js';
export { DeviceTransport, toCbor, plain } from './transport.js';
