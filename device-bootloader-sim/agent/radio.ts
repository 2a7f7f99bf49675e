/**
 * Radio energy model: what a byte on air costs a battery device.
 *
 * energy per byte (µJ) = current (mA) × voltage (V) × 8 / throughput (kbit/s)
 *   (mA × V = mW; 8 bits / (kbit/s) = ms per byte; mW × ms = µJ)
 *
 * Figures are datasheet currents during active RX/TX at a nominal supply and a realistic application
 * throughput (not the PHY peak). They exclude connection setup, idle/PSM and protocol overhead other
 * than the HTTP headers the agent counts as bytes; docs/agent.md gives the derivation and sources.
 */
export interface RadioProfile {
  name: string;
  description: string;
  rxMilliamps: number;
  txMilliamps: number;
  volts: number;
  /** Application-level throughput, kbit/s. */
  kbitPerSecond: number;
}

export const RADIOS: Record<string, RadioProfile> = {
  'nb-iot': { name: 'nb-iot', description: 'NB-IoT (Quectel BC95 class)', rxMilliamps: 60, txMilliamps: 220, volts: 3.6, kbitPerSecond: 20 },
  lora: { name: 'lora', description: 'LoRa SF7/125 kHz (Semtech SX1276)', rxMilliamps: 11, txMilliamps: 44, volts: 3.3, kbitPerSecond: 5.47 },
  ble: { name: 'ble', description: 'BLE 1M PHY (nRF52840)', rxMilliamps: 6.3, txMilliamps: 6.3, volts: 3.0, kbitPerSecond: 700 },
  wifi: { name: 'wifi', description: 'Wi-Fi 802.11n (ESP32)', rxMilliamps: 100, txMilliamps: 180, volts: 3.3, kbitPerSecond: 10_000 },
};

export function getRadio(name: string): RadioProfile {
  const r = RADIOS[name.toLowerCase()];
  if (!r) throw new Error(`unknown radio '${name}' (${Object.keys(RADIOS).join(', ')})`);
  return r;
}

/** µJ per received and per sent byte. */
export function energyPerByte(r: RadioProfile): { rxMicrojoules: number; txMicrojoules: number } {
  const msPerByte = 8 / r.kbitPerSecond;
  return { rxMicrojoules: r.rxMilliamps * r.volts * msPerByte, txMicrojoules: r.txMilliamps * r.volts * msPerByte };
}

/** Energy in millijoules and time on air in seconds for a byte count. */
export function radioCost(r: RadioProfile, rxBytes: number, txBytes: number): { millijoules: number; secondsOnAir: number } {
  const e = energyPerByte(r);
  return {
    millijoules: (rxBytes * e.rxMicrojoules + txBytes * e.txMicrojoules) / 1000,
    secondsOnAir: ((rxBytes + txBytes) * 8) / (r.kbitPerSecond * 1000),
  };
}
