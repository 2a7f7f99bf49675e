/** SUIT_Text_Map codec (draft-ietf-suit-manifest-37 §8.4.4): per language tag, text by key and per component. */
import { encodeCbor, type CborKey, type CborValue } from '../cbor.js';
import type { ComponentId, SuitText } from '../model.js';
import { bad, type Ctx, decodeComponentId, intMap } from './decode-context.js';

export interface TextInput {
  byLanguage: Map<string, { keys: Map<number, string>; components: { id: ComponentId; keys: Map<number, string> }[] }>;
  bytes?: Uint8Array;
}

export function decodeText(bytes: Uint8Array, ctx: Ctx): SuitText {
  const path = 'manifest.text';
  // SUIT_Text_Map = { + tag38-ltag => SUIT_Text_LMap }
  // SUIT_Text_LMap = { * int => tstr, * SUIT_Component_Identifier => { * int => tstr } }
  const v = ctx.inner(bytes, path, true);
  if (!(v instanceof Map) || v.size === 0) throw bad(path, 'text must be a non-empty map of language tags');
  const byLanguage: SuitText['byLanguage'] = new Map();
  for (const [lang, lmap] of v) {
    if (typeof lang !== 'string' || lang.length === 0) throw bad(path, 'text map keys must be language tags (text strings)');
    const p = `${path}["${lang}"]`;
    if (!(lmap instanceof Map)) throw bad(p, 'expected a map');
    const keys = new Map<number, string>();
    const components: { id: ComponentId; keys: Map<number, string> }[] = [];
    for (const [k, val] of lmap) {
      if (typeof k === 'number' && Number.isInteger(k)) {
        if (typeof val !== 'string') throw bad(`${p}[${k}]`, 'text value must be a text string');
        keys.set(k, val);
      } else if (Array.isArray(k)) {
        const id = decodeComponentId(k, `${p} component key`, ctx.limits);
        const cp = `${p}[component]`;
        const cm = intMap(val, cp);
        const ck = new Map<number, string>();
        for (const [kk, s] of cm) {
          if (typeof s !== 'string') throw bad(`${cp}[${kk}]`, 'text value must be a text string');
          ck.set(kk, s);
        }
        components.push({ id, keys: ck });
      } else {
        throw bad(p, `text key ${String(k)} is neither an integer nor a component identifier`);
      }
    }
    byLanguage.set(lang, { keys, components });
  }
  return { byLanguage, bytes };
}

/** Encode a SUIT_Text_Map (the content of its bstr). */
export function encodeText(t: TextInput): Uint8Array {
  const m = new Map<CborKey, CborValue>();
  for (const [lang, l] of t.byLanguage) {
    const lm = new Map<CborKey, CborValue>();
    for (const [k, s] of l.keys) lm.set(k, s);
    for (const c of l.components) lm.set([...c.id], new Map<CborKey, CborValue>([...c.keys]));
    m.set(lang, lm);
  }
  return encodeCbor(m);
}
