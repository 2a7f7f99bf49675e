import type { Kysely } from 'kysely';

/**
 * uint64 SUIT sequence numbers (util/seq.ts): every sequence column gets a TEXT twin holding the value as a
 * 20-digit zero-padded decimal, which sorts like the number with a plain string compare (portable: SQLite
 * and PostgreSQL). The application reads and orders only the twins from now on; the old `bigint` columns are
 * still written (two's-complement int64 image) for their NOT NULL / unique constraints.
 * Existing rows (all ≤ 2^53−1: the server refused bigger ones before) are filled here.
 */
const COLUMNS: ReadonlyArray<readonly [table: string, from: string, to: string]> = [
  ['releases', 'sequence', 'sequence_key'],
  ['devices', 'current_seq', 'current_seq_key'],
  ['reports', 'sequence', 'sequence_key'],
  ['rollouts', 'sequence', 'sequence_key'],
];

const key = (v: unknown): string => {
  const b = BigInt(v as number | bigint | string);
  if (b < 0n) throw new Error(`negative sequence number ${b} in the database`);
  return b.toString().padStart(20, '0');
};

export async function up(db: Kysely<any>): Promise<void> {
  for (const [table, from, to] of COLUMNS) {
    await db.schema.alterTable(table).addColumn(to, 'text').execute();
    const rows = await db.selectFrom(table).select(['id', from]).where(from, 'is not', null).execute();
    for (const r of rows) await db.updateTable(table).set({ [to]: key(r[from]) }).where('id', '=', r.id).execute();
  }
  await db.schema.createIndex('releases_vendor_class_seqkey').unique().on('releases').columns(['vendor_id', 'class_id', 'sequence_key']).execute();
}
