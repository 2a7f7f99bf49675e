export type { TrustedKey, SigningKey, KeyRole, KeyType } from './types.js';
export { encodeCoseKey, decodeCoseKey, keyThumbprint, thumbprintBytes, COSE_KEY, KTY, CRV } from './cose-key.js';
export {
  parsePublicKey,
  parsePrivateKey,
  generateKey,
  exportPrivatePem,
  exportPublicPem,
  macKey,
  keyTypeFor,
  SoftwareSigningKey,
  installHssLmsKeyHooks,
  type KeyAlgName,
  type ParseKeyOptions,
  type ExportOptions,
  type HssLmsKeyHooks,
} from './keys.js';
export { pemEncode, pemDecode } from './pem.js';
